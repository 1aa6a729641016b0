import { AionError } from '@aion/errors';
import type { RefreshRecord, RefreshStore, UserRecord, UserStore } from './sessions';

// Test support: in-memory session stores with the database's rules, for specs of the session
// service (the PostgreSQL stores have their own tests on real databases).

/** Users in memory with the database's rules: one account per normalised name and tenant. */
export class MemoryUsers implements UserStore {
  readonly rows: UserRecord[] = [];

  async find(tenantId: string, normalizedUsername: string) {
    return this.rows.find(
      (u) => u.tenantId === tenantId && u.normalizedUsername === normalizedUsername,
    );
  }

  async findById(tenantId: string, id: string) {
    return this.rows.find((u) => u.tenantId === tenantId && u.id === id);
  }

  async create(user: UserRecord) {
    if (await this.find(user.tenantId, user.normalizedUsername))
      throw AionError.conflict(`user ${user.username} already exists`);
    this.rows.push(user);
  }
}

export class MemoryRefresh implements RefreshStore {
  async insert(_token: RefreshRecord) {}
  async find() {
    return undefined;
  }
  async markUsed() {
    return true;
  }
  async revokeFamily() {}
}
