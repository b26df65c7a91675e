/**
 * The state of one datasource's schema tree, apart from any DOM, so paging
 * and laziness can be tested with a fake loader.
 *
 * A catalog can hold 100k columns, so nothing is fetched before it is
 * needed: opening the datasource asks for one page of the default schema's
 * table *names* (which also lists every schema); opening another schema asks
 * for its first page of names; "load more" passes the server's cursor; and
 * opening ONE table asks for that table's columns only, a page at a time.
 * Errors stay on the node that failed, so the rest of the tree stays usable.
 */
import type {
  IColumn,
  IRelationName,
  RelationKind
} from '../../api/datasources';

/** A page of relation names, as the tree needs it. */
export interface IRelationsPage {
  /** The schema the page belongs to (the default one when none was asked). */
  schema: string | null;
  /** Every schema's name: on a first page only. */
  schemas: string[] | null;
  items: IRelationName[];
  next: string | null;
  total: number;
}

export interface IColumnsPage {
  columns: IColumn[];
  next: string | null;
  total: number;
}

/** Where the tree's data comes from: the REST client in the Lab, fakes in tests. */
export interface ISchemaTreeLoader {
  /** Names of `schema`'s relations (null: the default schema) after `cursor`. */
  relations(
    schema: string | null,
    cursor: string | null
  ): Promise<IRelationsPage>;
  /** The columns of one relation after `cursor`. */
  columns(
    schema: string | null,
    table: string,
    cursor: string | null
  ): Promise<IColumnsPage>;
}

export type LoadStatus = 'idle' | 'loading' | 'loaded' | 'error';

/**
 * Children that arrive in pages: the first page on first expansion, more on
 * request. `moreError` is a failed "load more" (the items already shown stay).
 */
export class PagedChildren<T> {
  items: T[] = [];
  next: string | null = null;
  total: number | null = null;
  status: LoadStatus = 'idle';
  error: string | null = null;
  loadingMore = false;
  moreError: string | null = null;

  get hasMore(): boolean {
    return this.status === 'loaded' && this.next !== null;
  }

  reset(): void {
    this.items = [];
    this.next = null;
    this.total = null;
    this.status = 'idle';
    this.error = null;
    this.loadingMore = false;
    this.moreError = null;
  }
}

export class ColumnNode {
  constructor(readonly column: IColumn) {}

  get key(): string {
    return this.column.name;
  }
}

export class RelationNode {
  expanded = false;
  readonly columns = new PagedChildren<ColumnNode>();

  constructor(
    readonly schema: string | null,
    readonly name: string,
    readonly kind: RelationKind,
    readonly rowEstimate: number | null
  ) {}

  /** Unique within its datasource. */
  get key(): string {
    return `r\u0000${this.schema ?? ''}\u0000${this.name}`;
  }
}

export class SchemaNode {
  expanded = false;
  readonly relations = new PagedChildren<RelationNode>();

  constructor(readonly name: string | null) {}

  get key(): string {
    return `s\u0000${this.name ?? ''}`;
  }
}

/** Turns an unknown failure into the text a node shows. */
export type ErrorText = (error: unknown) => string;

function defaultErrorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export class SchemaTreeModel {
  /** Whether the datasource itself is open. */
  expanded = false;
  /** Loading the datasource's first page (which names the schemas). */
  status: LoadStatus = 'idle';
  error: string | null = null;
  schemas: SchemaNode[] = [];

  constructor(
    private readonly _loader: ISchemaTreeLoader,
    private readonly _onChange: () => void = () => undefined,
    private readonly _errorText: ErrorText = defaultErrorText
  ) {}

  /** Open or close the datasource; the first opening loads its schemas. */
  async toggle(): Promise<void> {
    this.expanded = !this.expanded;
    this._onChange();
    if (this.expanded && (this.status === 'idle' || this.status === 'error')) {
      await this._loadRoot();
    }
  }

  /** Open the datasource if it is closed (a no-op when open). */
  async expand(): Promise<void> {
    if (!this.expanded) {
      await this.toggle();
    }
  }

  /** Forget everything loaded (the datasource changed); stays open if it was. */
  async reload(): Promise<void> {
    this.schemas = [];
    this.status = 'idle';
    this.error = null;
    this._onChange();
    if (this.expanded) {
      await this._loadRoot();
    }
  }

  async toggleSchema(schema: SchemaNode): Promise<void> {
    schema.expanded = !schema.expanded;
    this._onChange();
    const list = schema.relations;
    if (
      schema.expanded &&
      (list.status === 'idle' || list.status === 'error')
    ) {
      await this._firstRelations(schema);
    }
  }

  async loadMoreRelations(schema: SchemaNode): Promise<void> {
    const list = schema.relations;
    if (!list.hasMore || list.loadingMore) {
      return;
    }
    await this._more(list, async cursor => {
      const page = await this._loader.relations(schema.name, cursor);
      return {
        items: page.items.map(item => this._relation(schema.name, item)),
        next: page.next,
        total: page.total
      };
    });
  }

  async toggleRelation(relation: RelationNode): Promise<void> {
    relation.expanded = !relation.expanded;
    this._onChange();
    const list = relation.columns;
    if (
      relation.expanded &&
      (list.status === 'idle' || list.status === 'error')
    ) {
      list.status = 'loading';
      list.error = null;
      this._onChange();
      try {
        const page = await this._loader.columns(
          relation.schema,
          relation.name,
          null
        );
        list.items = page.columns.map(column => new ColumnNode(column));
        list.next = page.next;
        list.total = page.total;
        list.status = 'loaded';
      } catch (error) {
        list.status = 'error';
        list.error = this._errorText(error);
      }
      this._onChange();
    }
  }

  async loadMoreColumns(relation: RelationNode): Promise<void> {
    const list = relation.columns;
    if (!list.hasMore || list.loadingMore) {
      return;
    }
    await this._more(list, async cursor => {
      const page = await this._loader.columns(
        relation.schema,
        relation.name,
        cursor
      );
      return {
        items: page.columns.map(column => new ColumnNode(column)),
        next: page.next,
        total: page.total
      };
    });
  }

  /** The schema node named `name`, if listed. */
  findSchema(name: string | null): SchemaNode | undefined {
    return this.schemas.find(schema => schema.name === name);
  }

  private async _loadRoot(): Promise<void> {
    this.status = 'loading';
    this.error = null;
    this._onChange();
    try {
      const page = await this._loader.relations(null, null);
      const names = page.schemas ?? (page.schema === null ? [] : [page.schema]);
      if (page.schema !== null && !names.includes(page.schema)) {
        names.unshift(page.schema);
      }
      this.schemas = names.map(name => new SchemaNode(name));
      // The default schema's first page came with the listing: keep it, so
      // opening that schema asks nothing more.
      const first = this.findSchema(page.schema);
      if (first !== undefined) {
        this._fill(first, page);
      }
      this.status = 'loaded';
    } catch (error) {
      this.status = 'error';
      this.error = this._errorText(error);
    }
    this._onChange();
  }

  private async _firstRelations(schema: SchemaNode): Promise<void> {
    const list = schema.relations;
    list.status = 'loading';
    list.error = null;
    this._onChange();
    try {
      this._fill(schema, await this._loader.relations(schema.name, null));
    } catch (error) {
      list.status = 'error';
      list.error = this._errorText(error);
    }
    this._onChange();
  }

  private _fill(schema: SchemaNode, page: IRelationsPage): void {
    const list = schema.relations;
    list.items = page.items.map(item => this._relation(schema.name, item));
    list.next = page.next;
    list.total = page.total;
    list.status = 'loaded';
    list.error = null;
  }

  private _relation(schema: string | null, item: IRelationName): RelationNode {
    return new RelationNode(schema, item.name, item.kind, item.row_estimate);
  }

  private async _more<T>(
    list: PagedChildren<T>,
    fetch: (
      cursor: string
    ) => Promise<{ items: T[]; next: string | null; total: number }>
  ): Promise<void> {
    const cursor = list.next;
    if (cursor === null) {
      return;
    }
    list.loadingMore = true;
    list.moreError = null;
    this._onChange();
    try {
      const page = await fetch(cursor);
      list.items = [...list.items, ...page.items];
      list.next = page.next;
      list.total = page.total;
    } catch (error) {
      list.moreError = this._errorText(error);
    } finally {
      list.loadingMore = false;
    }
    this._onChange();
  }
}
