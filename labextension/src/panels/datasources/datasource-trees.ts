/**
 * What the Datasources section keeps per datasource across reloads of its
 * list: the schema tree (loaded over REST in pages, kept open while the
 * datasource's revision is unchanged, reloaded when it changes) and the last
 * connection Test's outcome. Also what expanding, paging and Retry in the tree
 * do to those trees. Apart from the section so that the section is about the
 * list and its actions, and this module about the trees under it.
 */
import type { DatasourcesAPI, IDatasource } from '../../api/datasources';
import { errorMessage } from '../../api/request';
import {
  type ISchemaTreeLoader,
  type PagedChildren,
  RelationNode,
  SchemaNode,
  SchemaTreeModel
} from './tree-model';
import { type ITestState, type ITreeHandlers, itemKey } from './tree-view';

/** Relations per page of the tree; columns per page of one table. */
export const RELATIONS_PAGE = 100;
export const COLUMNS_PAGE = 200;

/** The loader of one datasource's tree, over the REST client. */
export function treeLoader(
  api: Pick<DatasourcesAPI, 'relationNames' | 'tableColumns'>,
  datasourceId: string
): ISchemaTreeLoader {
  return {
    relations: (schema, cursor) =>
      api.relationNames(datasourceId, {
        schema,
        cursor,
        limit: RELATIONS_PAGE
      }),
    columns: async (schema, table, cursor) => {
      const page = await api.tableColumns(datasourceId, {
        schema,
        table,
        cursor,
        limit: COLUMNS_PAGE
      });
      return {
        columns: page.columns,
        next: page.next,
        total: page.total_columns
      };
    }
  };
}

/** What the tree's expand, "Load more" and Retry act on. */
export type TreeNodeHandlers = Pick<
  ITreeHandlers,
  | 'toggleDatasource'
  | 'toggleSchema'
  | 'toggleRelation'
  | 'moreRelations'
  | 'moreColumns'
  | 'retry'
>;

/** The schema tree and the Test outcome of each listed datasource. */
export class DatasourceTrees {
  /**
   * @param api - loads the trees' pages.
   * @param onChange - called whenever a tree changes (to draw it again).
   */
  constructor(
    private readonly _api: Pick<
      DatasourcesAPI,
      'relationNames' | 'tableColumns'
    >,
    private readonly _onChange: () => void
  ) {}

  /** The tree of a listed datasource. */
  model(id: string): SchemaTreeModel | undefined {
    return this._models.get(id)?.model;
  }

  /** The last Test of a datasource, if any. */
  test(id: string): ITestState | undefined {
    return this._tests.get(id);
  }

  setTest(id: string, state: ITestState): void {
    this._tests.set(id, state);
  }

  /** Forget a Test's outcome (the datasource was edited). */
  clearTest(id: string): void {
    this._tests.delete(id);
  }

  /** Forget a datasource's tree and Test (it was deleted). */
  forget(id: string): void {
    this._models.delete(id);
    this._tests.delete(id);
  }

  /** Keep the open trees of unchanged datasources; reload changed ones. */
  sync(items: IDatasource[]): void {
    const seen = new Set<string>();
    for (const ds of items) {
      seen.add(ds.id);
      const known = this._models.get(ds.id);
      if (known === undefined) {
        this._models.set(ds.id, this._newModel(ds));
      } else if (known.revision !== ds.revision) {
        known.revision = ds.revision;
        void known.model.reload();
      }
    }
    for (const id of [...this._models.keys()]) {
      if (!seen.has(id)) {
        this.forget(id);
      }
    }
  }

  /**
   * The tree's expand, "Load more" and Retry; after a page loads, `focus` is
   * given the key of its first new item, so the keyboard goes on from there.
   */
  nodeHandlers(focus: (key: string) => void): TreeNodeHandlers {
    return {
      toggleDatasource: ds => void this.model(ds.id)?.toggle(),
      toggleSchema: (ds, schema) =>
        void this.model(ds.id)?.toggleSchema(schema),
      toggleRelation: (ds, relation) =>
        void this.model(ds.id)?.toggleRelation(relation),
      moreRelations: (ds, schema) =>
        this._loadMore(
          ds,
          schema.relations,
          model => model.loadMoreRelations(schema),
          first => itemKey(ds, first.key),
          focus
        ),
      moreColumns: (ds, relation) =>
        this._loadMore(
          ds,
          relation.columns,
          model => model.loadMoreColumns(relation),
          first => itemKey(ds, `${relation.key}|c|${first.key}`),
          focus
        ),
      retry: (ds, node) => {
        const model = this.model(ds.id);
        if (!model) {
          return;
        }
        if (node instanceof SchemaTreeModel) {
          void model.reload();
        } else if (node instanceof SchemaNode) {
          node.expanded = false;
          void model.toggleSchema(node);
        } else if (node instanceof RelationNode) {
          node.expanded = false;
          void model.toggleRelation(node);
        }
      }
    };
  }

  /** Load the next page of `list`, then focus its first new item. */
  private _loadMore<T>(
    ds: IDatasource,
    list: PagedChildren<T>,
    load: (model: SchemaTreeModel) => Promise<void>,
    keyOf: (first: T) => string,
    focus: (key: string) => void
  ): void {
    const model = this.model(ds.id);
    if (model) {
      const before = list.items.length;
      void load(model).then(() => {
        const first = list.items[before];
        if (first) {
          focus(keyOf(first));
        }
      });
    }
  }

  private _newModel(ds: IDatasource): {
    model: SchemaTreeModel;
    revision: number;
  } {
    const model = new SchemaTreeModel(
      treeLoader(this._api, ds.id),
      this._onChange,
      errorMessage
    );
    return { model, revision: ds.revision };
  }

  private readonly _models = new Map<
    string,
    { model: SchemaTreeModel; revision: number }
  >();
  private readonly _tests = new Map<string, ITestState>();
}
