/** A PasswordCheck for tests: plain-text users in memory, counting calls. Never used by product code. */
import type { PasswordCheck } from '../../main/lan/local-users.js';

export class TestPasswordCheck implements PasswordCheck {
  calls = 0;
  constructor(private readonly users: Readonly<Record<string, string>>) {}

  async check(user: string, password: string): Promise<boolean> {
    this.calls++;
    await new Promise<void>((resolve) => setImmediate(resolve));
    return Object.prototype.hasOwnProperty.call(this.users, user) && this.users[user] === password;
  }
}
