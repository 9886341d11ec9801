/**
 * One partition's Parquet file of a roll, built in memory a row group at a time: `PAR1`, the row groups (each
 * column's chunk from parquet-columns.ts), the footer (parquet-thrift.ts), its length, `PAR1`.
 * https://github.com/apache/parquet-format#file-format
 */
import { ByteSink } from "./byte-sink";
import { columnBuilder, type ColumnBuilder } from "./parquet-columns";
import { parquetSchema, type ParquetColumn } from "./parquet-schema";
import { writeFileMetaData, type RowGroupMeta } from "./parquet-thrift";

const MAGIC = Uint8Array.from([0x50, 0x41, 0x52, 0x31]);
const CREATED_BY = "modelport prediction log";

export class PartitionFile {
  private readonly output = new ByteSink(1 << 16);
  private readonly columns: ColumnBuilder[];
  private readonly rowGroups: RowGroupMeta[] = [];
  /** Rows in the row group being built. */
  private groupRows = 0;
  /** Rows added. */
  rows = 0;

  constructor(
    private readonly spec: readonly ParquetColumn[],
    private readonly rowGroupRows: number,
  ) {
    this.columns = spec.map(columnBuilder);
    this.output.bytes(MAGIC);
  }

  /**
   * One line's fields, column i's at [starts[fieldOf[i]], ends[fieldOf[i]]) of `line` (fieldOf[i] < 0: a field
   * this journal segment does not have, NULL). Throws, adding nothing, on a value its column cannot hold.
   */
  add(line: Buffer, starts: Int32Array, ends: Int32Array, fieldOf: readonly number[], escaped: boolean): void {
    for (let i = 0; i < this.columns.length; i++) {
      const at = fieldOf[i]!;
      if (at < 0) this.columns[i]!.prepare(NULL_LINE, 0, 2, true);
      else this.columns[i]!.prepare(line, starts[at]!, ends[at]!, escaped);
    }
    for (const column of this.columns) column.commit();
    this.rows++;
    if (++this.groupRows >= this.rowGroupRows) this.flushGroup();
  }

  /** The file's bytes (its last row group and the footer written), in a buffer of their own. */
  finish(): Uint8Array {
    this.flushGroup();
    const footerStart = this.output.length;
    writeFileMetaData(this.output, parquetSchema(this.spec), this.rowGroups, CREATED_BY);
    this.output.uint32(this.output.length - footerStart);
    this.output.bytes(MAGIC);
    return this.output.copy();
  }

  private flushGroup(): void {
    if (this.groupRows === 0) return;
    this.rowGroups.push({ rows: this.groupRows, columns: this.columns.map((column) => column.writeChunk(this.output)) });
    this.groupRows = 0;
  }
}

const NULL_LINE = Buffer.from("\\N");
