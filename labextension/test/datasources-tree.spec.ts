/**
 * The schema tree's model: lazy (nothing fetched before it is opened), paged
 * (load more passes the server's cursor), one table's columns fetched for
 * that table only, and errors kept on the node that failed.
 */
import type { IColumn } from '../src/api/datasources';
import type {
  IColumnsPage,
  IRelationsPage,
  ISchemaTreeLoader
} from '../src/panels/datasources/tree-model';
import { SchemaTreeModel } from '../src/panels/datasources/tree-model';
import { treeLoader } from '../src/panels/datasources/datasource-trees';

interface ICall {
  kind: 'relations' | 'columns';
  schema: string | null;
  table?: string;
  cursor: string | null;
}

/** A fake catalog: `main` with 5 tables (pages of 2), `other` with 1; 3 columns each. */
class FakeLoader implements ISchemaTreeLoader {
  calls: ICall[] = [];
  failNext: Error | null = null;

  async relations(
    schema: string | null,
    cursor: string | null
  ): Promise<IRelationsPage> {
    this.calls.push({ kind: 'relations', schema, cursor });
    this._maybeFail();
    const name = schema ?? 'main';
    const all =
      name === 'main'
        ? ['t1', 't2', 't3', 't4', 't5']
        : name === 'other'
          ? ['o1']
          : [];
    const start = cursor === null ? 0 : Number(cursor.replace('after:', ''));
    const items = all.slice(start, start + 2).map(table => ({
      name: table,
      kind: table === 't5' ? ('view' as const) : ('table' as const),
      row_estimate: 10
    }));
    const end = start + 2;
    return {
      schema: name,
      schemas: cursor === null ? ['main', 'other'] : null,
      items,
      next: end < all.length ? `after:${end}` : null,
      total: all.length
    };
  }

  async columns(
    schema: string | null,
    table: string,
    cursor: string | null
  ): Promise<IColumnsPage> {
    this.calls.push({ kind: 'columns', schema, table, cursor });
    this._maybeFail();
    const all: IColumn[] = [0, 1, 2].map(i => ({
      name: `${table}_c${i}`,
      type: 'INTEGER',
      nullable: i > 0,
      primary_key: i === 0
    }));
    const start = cursor === null ? 0 : Number(cursor);
    return {
      columns: all.slice(start, start + 2),
      next: start + 2 < all.length ? String(start + 2) : null,
      total: all.length
    };
  }

  private _maybeFail(): void {
    if (this.failNext) {
      const error = this.failNext;
      this.failNext = null;
      throw error;
    }
  }
}

describe('SchemaTreeModel', () => {
  it('fetches nothing until the datasource is opened, then one names page', async () => {
    const loader = new FakeLoader();
    const changes = jest.fn();
    const model = new SchemaTreeModel(loader, changes);
    expect(loader.calls).toEqual([]);
    await model.toggle();
    expect(loader.calls).toEqual([
      { kind: 'relations', schema: null, cursor: null }
    ]);
    expect(model.status).toBe('loaded');
    expect(model.schemas.map(s => s.name)).toEqual(['main', 'other']);
    expect(changes).toHaveBeenCalled();
  });

  it('reuses the default schema page it already has when that schema opens', async () => {
    const loader = new FakeLoader();
    const model = new SchemaTreeModel(loader);
    await model.toggle();
    const main = model.findSchema('main')!;
    await model.toggleSchema(main);
    expect(loader.calls).toHaveLength(1);
    expect(main.relations.items.map(r => r.name)).toEqual(['t1', 't2']);
    // Another schema asks for its own first page, by name.
    const other = model.findSchema('other')!;
    await model.toggleSchema(other);
    expect(loader.calls[1]).toEqual({
      kind: 'relations',
      schema: 'other',
      cursor: null
    });
    expect(other.relations.items.map(r => r.name)).toEqual(['o1']);
    expect(other.relations.hasMore).toBe(false);
  });

  it('"load more" passes the server cursor and appends the page', async () => {
    const loader = new FakeLoader();
    const model = new SchemaTreeModel(loader);
    await model.toggle();
    const main = model.findSchema('main')!;
    await model.toggleSchema(main);
    expect(main.relations.next).toBe('after:2');
    await model.loadMoreRelations(main);
    expect(loader.calls[1]).toEqual({
      kind: 'relations',
      schema: 'main',
      cursor: 'after:2'
    });
    await model.loadMoreRelations(main);
    expect(loader.calls[2]).toEqual({
      kind: 'relations',
      schema: 'main',
      cursor: 'after:4'
    });
    expect(main.relations.items.map(r => r.name)).toEqual([
      't1',
      't2',
      't3',
      't4',
      't5'
    ]);
    expect(main.relations.items[4].kind).toBe('view');
    expect(main.relations.hasMore).toBe(false);
    await model.loadMoreRelations(main); // nothing left: no request
    expect(loader.calls).toHaveLength(3);
  });

  it('expanding one table asks for that table’s columns only', async () => {
    const loader = new FakeLoader();
    const model = new SchemaTreeModel(loader);
    await model.toggle();
    const main = model.findSchema('main')!;
    await model.toggleSchema(main);
    loader.calls = [];
    const [t1, t2] = main.relations.items;
    await model.toggleRelation(t2);
    expect(loader.calls).toEqual([
      { kind: 'columns', schema: 'main', table: 't2', cursor: null }
    ]);
    expect(t2.columns.items.map(c => c.column.name)).toEqual([
      't2_c0',
      't2_c1'
    ]);
    expect(t2.columns.total).toBe(3);
    expect(t1.columns.status).toBe('idle');
    expect(t1.expanded).toBe(false);
    // Columns page on with the cursor; closing and opening again asks nothing.
    await model.loadMoreColumns(t2);
    expect(loader.calls[1]).toEqual({
      kind: 'columns',
      schema: 'main',
      table: 't2',
      cursor: '2'
    });
    expect(t2.columns.items.map(c => c.column.name)).toEqual([
      't2_c0',
      't2_c1',
      't2_c2'
    ]);
    await model.toggleRelation(t2);
    await model.toggleRelation(t2);
    expect(loader.calls).toHaveLength(2);
  });

  it('keeps an error on the node that failed, and retries on the next opening', async () => {
    const loader = new FakeLoader();
    const model = new SchemaTreeModel(
      loader,
      undefined,
      e => `shown: ${(e as Error).message}`
    );
    loader.failNext = new Error('no access');
    await model.toggle();
    expect(model.status).toBe('error');
    expect(model.error).toBe('shown: no access');
    await model.reload();
    expect(model.status).toBe('loaded');

    const main = model.findSchema('main')!;
    await model.toggleSchema(main);
    const t1 = main.relations.items[0];
    loader.failNext = new Error('table "t1" not found');
    await model.toggleRelation(t1);
    expect(t1.columns.status).toBe('error');
    expect(t1.columns.error).toBe('shown: table "t1" not found');
    expect(main.relations.status).toBe('loaded'); // the rest of the tree is fine
    await model.toggleRelation(t1); // close
    await model.toggleRelation(t1); // open again: retried
    expect(t1.columns.status).toBe('loaded');
  });

  it('a failed "load more" keeps the items and shows the error, then can retry', async () => {
    const loader = new FakeLoader();
    const model = new SchemaTreeModel(loader);
    await model.toggle();
    const main = model.findSchema('main')!;
    await model.toggleSchema(main);
    loader.failNext = new Error('timeout');
    await model.loadMoreRelations(main);
    expect(main.relations.items).toHaveLength(2);
    expect(main.relations.moreError).toBe('timeout');
    expect(main.relations.next).toBe('after:2');
    await model.loadMoreRelations(main);
    expect(main.relations.moreError).toBeNull();
    expect(main.relations.items).toHaveLength(4);
  });

  it('a schema page that fails shows in that schema', async () => {
    const loader = new FakeLoader();
    const model = new SchemaTreeModel(loader);
    await model.toggle();
    const other = model.findSchema('other')!;
    loader.failNext = new Error('schema gone');
    await model.toggleSchema(other);
    expect(other.relations.status).toBe('error');
    expect(other.relations.error).toBe('schema gone');
  });
});

describe('treeLoader', () => {
  it('asks the REST client for names only and one table’s columns', async () => {
    const relationNames = jest.fn().mockResolvedValue({
      datasource_id: 'd',
      schema: 'main',
      schemas: ['main'],
      items: [],
      next: null,
      total: 0,
      cached_at: ''
    });
    const tableColumns = jest.fn().mockResolvedValue({
      datasource_id: 'd',
      schema: 'main',
      table: 'orders',
      kind: 'table',
      row_estimate: null,
      primary_key: [],
      foreign_keys: [],
      columns: [
        { name: 'id', type: 'INT', nullable: false, primary_key: true }
      ],
      next: 'c2',
      total_columns: 9
    });
    const loader = treeLoader({ relationNames, tableColumns }, 'd');
    await loader.relations('main', 'cur');
    expect(relationNames).toHaveBeenCalledWith('d', {
      schema: 'main',
      cursor: 'cur',
      limit: 100
    });
    const page = await loader.columns('main', 'orders', null);
    expect(tableColumns).toHaveBeenCalledWith('d', {
      schema: 'main',
      table: 'orders',
      cursor: null,
      limit: 200
    });
    expect(page).toEqual({
      columns: [
        { name: 'id', type: 'INT', nullable: false, primary_key: true }
      ],
      next: 'c2',
      total: 9
    });
  });
});
