/** null is how NaN comes back from JSON (a scenario process's result, results.json). */
type Cell = string | number | null | undefined;

/** A plain aligned text table: text left, numbers right, missing values as "-". */
export function renderTable(header: string[], rows: Cell[][]): string {
  const text = (cell: Cell) =>
    cell === undefined || cell === null || (typeof cell === 'number' && Number.isNaN(cell))
      ? '-'
      : formatCell(cell);
  const cells = [header, ...rows.map((row) => row.map(text))];
  const widths = header.map((_, column) => Math.max(...cells.map((row) => (row[column] ?? '').length)));
  const line = (row: string[], source?: Cell[]) =>
    row
      .map((cell, column) =>
        typeof source?.[column] === 'number' ? cell.padStart(widths[column]) : cell.padEnd(widths[column]),
      )
      .join('  ')
      .trimEnd();
  return [
    line(cells[0]),
    widths.map((w) => '-'.repeat(w)).join('  '),
    ...cells.slice(1).map((row, i) => line(row, rows[i])),
  ].join('\n');
}

function formatCell(cell: string | number): string {
  if (typeof cell === 'string') return cell;
  if (Number.isInteger(cell)) return cell.toLocaleString('en-US');
  return cell.toLocaleString('en-US', { maximumFractionDigits: Math.abs(cell) < 10 ? 2 : 1 });
}
