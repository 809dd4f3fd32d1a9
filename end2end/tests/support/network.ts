// A switch for one browser context's live socket: while it is off, open
// sockets are closed and every new /ws connection is closed as soon as it
// opens (what a proxy that blocks upgrades looks like to the page).
// Playwright's `setOffline` does not touch WebSockets (microsoft/playwright
// #4910), so tests that take a tab offline use both.
import type { BrowserContext, WebSocketRoute } from '@playwright/test';

export interface SocketSwitch {
  /** Drops the open sockets and refuses new ones. */
  off(): Promise<void>;
  /** Lets new sockets through to the server again. */
  on(): void;
}

/** Routes the context's `/ws` through a switch; call before any page loads. */
export async function socketSwitch(context: BrowserContext, startOn = true): Promise<SocketSwitch> {
  let allowed = startOn;
  const open = new Set<{ page: WebSocketRoute; server: WebSocketRoute }>();
  await context.routeWebSocket(/\/ws$/, (ws) => {
    if (!allowed) {
      void ws.close({ code: 1011, reason: 'refused by the test' });
      return;
    }
    const pair = { page: ws, server: ws.connectToServer() };
    open.add(pair);
    // Closing one side closes the other, with the same code (4001 / 4003
    // mean something to the page).
    ws.onClose((code, reason) => {
      open.delete(pair);
      void pair.server.close({ code, reason });
    });
    pair.server.onClose((code, reason) => {
      open.delete(pair);
      void ws.close({ code, reason });
    });
  });
  return {
    async off() {
      allowed = false;
      for (const pair of [...open]) {
        open.delete(pair);
        await pair.page.close({ code: 1011, reason: 'cut by the test' });
        await pair.server.close();
      }
    },
    on() {
      allowed = true;
    },
  };
}

/** Takes the context offline for HTTP and its socket alike. */
export async function goOffline(context: BrowserContext, socket: SocketSwitch): Promise<void> {
  await context.setOffline(true);
  await socket.off();
}

export async function goOnline(context: BrowserContext, socket: SocketSwitch): Promise<void> {
  await context.setOffline(false);
  socket.on();
}
