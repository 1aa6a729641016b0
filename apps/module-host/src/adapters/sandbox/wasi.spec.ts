import { ERRNO, resolvePackagePath } from './wasi';

const files = new Map([
  ['data/stopwords.txt', new Uint8Array([1])],
  ['model/weights.bin', new Uint8Array([2])],
]);

describe('resolvePackagePath', () => {
  it.each([
    ['data/stopwords.txt', { kind: 'file', path: 'data/stopwords.txt' }],
    ['./data//stopwords.txt', { kind: 'file', path: 'data/stopwords.txt' }],
    ['data/../data/stopwords.txt', { kind: 'file', path: 'data/stopwords.txt' }],
    ['data', { kind: 'dir' }],
    ['', { kind: 'dir' }],
  ])('resolves %j', (requested, expected) => {
    expect(resolvePackagePath(requested, files)).toEqual(expected);
  });

  it.each([
    ['../etc/passwd', ERRNO.NOTCAPABLE],
    ['data/../../etc/passwd', ERRNO.NOTCAPABLE],
    ['/etc/passwd', ERRNO.NOTCAPABLE],
    ['secret.txt', ERRNO.NOENT],
    ['data/stopwords.txt\0.png', ERRNO.INVAL],
    ['a/'.repeat(3000), ERRNO.NAMETOOLONG],
  ])('refuses %j', (requested, errno) => {
    expect(resolvePackagePath(requested, files)).toEqual({ errno });
  });
});
