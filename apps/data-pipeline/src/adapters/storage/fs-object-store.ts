import { copyFile, mkdir, readFile, rename, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ObjectStore } from '../../core/ports';

/**
 * Object storage in a directory (the embedded default): keys are relative paths under the root.
 * Writes go to a temporary name first and are renamed, so a reader never sees half an object.
 */
export class FsObjectStore implements ObjectStore {
  constructor(private readonly root: string) {}

  private at(key: string): string {
    if (key.split('/').some((part) => part === '..' || part === '') || path.isAbsolute(key))
      throw new Error(`object key ${key} is not a plain relative key`);
    return path.join(this.root, key);
  }

  async putFile(key: string, localPath: string) {
    const target = this.at(key);
    await mkdir(path.dirname(target), { recursive: true });
    const tmp = `${target}.${process.pid}.part`;
    await copyFile(localPath, tmp);
    await rename(tmp, target);
  }

  async getFile(key: string, localPath: string) {
    await mkdir(path.dirname(localPath), { recursive: true });
    await copyFile(this.at(key), localPath);
  }

  async putBytes(key: string, bytes: Uint8Array) {
    const target = this.at(key);
    await mkdir(path.dirname(target), { recursive: true });
    const tmp = `${target}.${process.pid}.part`;
    await writeFile(tmp, bytes);
    await rename(tmp, target);
  }

  async getBytes(key: string) {
    return readFile(this.at(key)).then(
      (b) => new Uint8Array(b),
      () => undefined,
    );
  }

  async exists(key: string) {
    return stat(this.at(key)).then(
      () => true,
      () => false,
    );
  }

  async delete(key: string) {
    const target = this.at(key);
    await rm(target, { force: true });
    // The directory the key's last part sat in goes too once empty (an upload's own directory).
    if (path.dirname(target) !== this.root)
      await rmdir(path.dirname(target)).catch(() => undefined);
  }

  uri(key: string) {
    return pathToFileURL(this.at(key)).href;
  }
}
