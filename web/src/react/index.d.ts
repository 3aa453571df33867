import type { ReactNode, ReactElement } from 'react';
import type { PresenceClient, View, Activity, ConnectionState, PresenceSettings, PresenceSnapshot, LastSeenClass } from '../index.js';

export declare function PresenceProvider(props: { client: PresenceClient | null; children?: ReactNode }): ReactElement;
export declare function usePresenceClient(): PresenceClient | null;
export declare function usePresence(userId: string): View;
/** Depends on the set of ids, not the array's identity. */
export declare function useBulkPresence(userIds: readonly string[]): PresenceSnapshot;
export declare function useActivity(userId: string): Activity | null;
export declare function useConnectionState(): ConnectionState;
export interface LastSeen {
  /** '' when unknown or hidden. */
  readonly text: string;
  readonly bucket: LastSeenClass['bucket'];
  readonly lastSeen: number | null;
}
export declare function useLastSeen(userId: string, options?: { locale?: string }): LastSeen;
export declare function formatLastSeenText(c: LastSeenClass, locale?: string): string;
export interface PresenceSettingsState {
  settings: PresenceSettings | null;
  error: Error | null;
  loading: boolean;
  /** Optimistic; rolls back and sets `error` if the PUT fails (resolves null then). */
  update(partial: Partial<PresenceSettings>): Promise<PresenceSettings | null>;
}
export declare function usePresenceSettings(): PresenceSettingsState;
