/** The Postgres types the engine's JSON recordsets carry. */
type PgType = 'uuid' | 'text' | 'int' | 'float8' | 'boolean' | 'jsonb';

type TsType<T extends PgType> = T extends 'int' | 'float8'
  ? number
  : T extends 'boolean'
    ? boolean
    : T extends 'jsonb'
      ? unknown
      : string;

/** The columns of a recordset, each with its Postgres type: one description for both sides. */
export type Columns = Record<string, PgType>;

/** A row of a recordset, as the statement's JSON parameter carries it. */
export type RecordOf<C extends Columns> = { -readonly [K in keyof C]: TsType<C[K]> | null };

/** Each description's column list, built once: every hot statement names several. */
const columnLists = new WeakMap<Columns, string>();

/**
 * The column list of `jsonb_to_recordset(...) AS alias(<this>)`, from the same description that
 * types the rows, so that the SQL and the TypeScript that fills it cannot drift apart.
 */
export function recordsetColumns(columns: Columns): string {
  let list = columnLists.get(columns);
  if (list === undefined) {
    list = Object.entries(columns)
      .map(([name, type]) => `"${name}" ${type}`)
      .join(', ');
    columnLists.set(columns, list);
  }
  return list;
}
