/**
 * Star state of saved queries, always as the server says it: built from
 * `GET /api/query/favorites`, changed only by what the server answered to a
 * toggle. A toggle in flight is "pending", so a second click cannot send a
 * contradicting request.
 */
import type { IFavorite } from '../../api/queries';

/** The two calls a toggle makes (the queries API, or a fake in tests). */
export interface IFavoriteCalls {
  addFavorite(queryId: string): Promise<IFavorite>;
  removeFavorite(queryId: string): Promise<void>;
}

export class FavoriteState {
  constructor(favorites: readonly IFavorite[] = []) {
    this.reset(favorites);
  }

  /** Replace the state with a fresh server listing. */
  reset(favorites: readonly IFavorite[]): void {
    this._byQuery.clear();
    for (const favorite of favorites) {
      if (favorite.object_type === 'query') {
        this._byQuery.set(favorite.object_id, favorite);
      }
    }
  }

  isFavorite(queryId: string): boolean {
    return this._byQuery.has(queryId);
  }

  isPending(queryId: string): boolean {
    return this._pending.has(queryId);
  }

  /** The saved-query favorites, in the user's order. */
  get favorites(): IFavorite[] {
    return [...this._byQuery.values()].sort((a, b) => a.position - b.position);
  }

  /**
   * Favorite or unfavorite `queryId` on the server and return the new state.
   * While pending, another toggle of the same query resolves to the current
   * state without a request. On failure the state is unchanged and the
   * error is thrown (the caller shows the server's message).
   */
  async toggle(queryId: string, calls: IFavoriteCalls): Promise<boolean> {
    if (this._pending.has(queryId)) {
      return this.isFavorite(queryId);
    }
    this._pending.add(queryId);
    try {
      if (this.isFavorite(queryId)) {
        await calls.removeFavorite(queryId);
        this._byQuery.delete(queryId);
        return false;
      }
      const favorite = await calls.addFavorite(queryId);
      this._byQuery.set(queryId, favorite);
      return true;
    } finally {
      this._pending.delete(queryId);
    }
  }

  private readonly _byQuery = new Map<string, IFavorite>();
  private readonly _pending = new Set<string>();
}
