/** Command ids of the Queries section (`analytics-ext:<verb>-<noun>`). */
export namespace QueryCommandIDs {
  export const newQuery = 'analytics-ext:new-query';
  export const refreshQueries = 'analytics-ext:refresh-queries';
  export const openQuery = 'analytics-ext:open-query-in-notebook';
  export const toggleFavorite = 'analytics-ext:toggle-query-favorite';
  export const shareQuery = 'analytics-ext:share-query';
  export const saveAsTemplate = 'analytics-ext:save-query-as-template';
  export const exportQuery = 'analytics-ext:export-query';
  export const renameQuery = 'analytics-ext:rename-query';
  export const deleteQuery = 'analytics-ext:delete-query';
}

/** The CSS selector of a saved-query row (the context menu's target). */
export const QUERY_ROW_SELECTOR = '.jp-AnalyticsQueries-row[data-query-id]';
