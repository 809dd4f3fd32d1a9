// A private Parley server for tests that must stop and start it: its own
// SQLite file (kept across restarts), its own port, the demo accounts.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createServer } from 'node:net';

const root = resolve(__dirname, '../../..');
const binary = process.env.PARLEY_BIN ?? join(root, 'target/debug/parley');

async function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => done(port));
    });
    server.on('error', fail);
  });
}

export class PrivateServer {
  private child: ChildProcess | null = null;
  private constructor(
    public readonly port: number,
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  static async start(): Promise<PrivateServer> {
    const dir = mkdtempSync(join(tmpdir(), 'parley-e2e-private-'));
    const port = await freePort();
    const env = {
      ...process.env,
      DATABASE_URL: `sqlite://${join(dir, 'private.db')}`,
      LEPTOS_SITE_ROOT: join(root, 'target/site'),
      LEPTOS_SITE_ADDR: `127.0.0.1:${port}`,
      PARLEY_PRESENCE_GRACE_SECS: '2',
      // A demo (the demo accounts exist) serving this machine only, like
      // scripts/e2e-server.sh.
      PARLEY_DEMO: 'true',
      PARLEY_LOCAL_ONLY: 'true',
      RUST_LOG: 'warn',
    };
    const seeded = spawnSync(binary, ['seed-demo'], { env });
    if (seeded.status !== 0) throw new Error(`seed-demo failed: ${seeded.stderr}`);
    const server = new PrivateServer(port, env);
    await server.boot();
    return server;
  }

  private async boot(): Promise<void> {
    this.child = spawn(binary, ['serve'], { env: this.env, stdio: 'ignore' });
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      try {
        const response = await fetch(`${this.url}/healthz`);
        if (response.ok) return;
      } catch {
        // not up yet
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('the private server did not come up');
  }

  /** Stops the process (SIGTERM: graceful, sockets told to reconnect). */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    await new Promise<void>((done) => {
      child.once('exit', () => done());
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), 10_000);
    });
    this.child = null;
  }

  async restart(pauseMs = 0): Promise<void> {
    await this.stop();
    if (pauseMs > 0) await new Promise((r) => setTimeout(r, pauseMs));
    await this.boot();
  }
}
