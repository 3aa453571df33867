// A TypeScript app using @presence/web's public types the way the README
// shows. `tsc -p e2e/types` must accept it; the @ts-expect-error lines must
// stay errors (so the types reject what the API rejects).
import { createPresenceClient, type PresenceClient, type View, type Status } from '@presence/web';
import {
  PresenceProvider, usePresence, useBulkPresence, useLastSeen, useActivity, useConnectionState,
  usePresenceSettings,
} from '@presence/web/react';

const client: PresenceClient = createPresenceClient({
  url: 'wss://example.com/ws',
  getToken: async () => 'token',
  device: 'web',
  idleMs: 60_000,
});
client.subscribe(['alice', 'bob']);
const stop: () => void = client.subscribe(() => {});
stop();
const status: Status = client.status;
const view: View = client.getPresence('alice');
if (view.status === 'offline' && view.lastSeen !== undefined) console.log(view.lastSeen.toFixed(0));
client.startTyping('dm.alice.bob');
void client.settings.update({ showLastSeen: 'contacts' });
// @ts-expect-error: not a status
client.setStatus('busy');
// @ts-expect-error: not a visibility
void client.settings.update({ showLastSeen: 'friends' });
// @ts-expect-error: url is required
createPresenceClient({ token: 't' });

function Row({ id }: { id: string }) {
  const v = usePresence(id);
  const seen = useLastSeen(id);
  const activity = useActivity(id);
  const typing = activity?.type === 'typing' ? activity.conversationId : null;
  return (
    <li data-status={v.status}>
      {id} {seen.text} {typing}
    </li>
  );
}

function List({ ids }: { ids: readonly string[] }) {
  const snapshot = useBulkPresence(ids);
  const state = useConnectionState();
  const { settings, update } = usePresenceSettings();
  const online = [...snapshot.values()].filter((v) => v.status === 'online').length;
  return (
    <div data-state={state} onClick={() => void update({ showOnlineStatus: 'nobody' })}>
      {online} online; status shown to {settings?.showOnlineStatus ?? '…'}
      <ul>{ids.map((id) => <Row key={id} id={id} />)}</ul>
    </div>
  );
}

export const app = (
  <PresenceProvider client={client}>
    <List ids={['alice', 'bob']} />
  </PresenceProvider>
);
console.log(status);
