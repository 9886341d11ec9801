/**
 * Parquet assembled from parts: row groups encoded apart (in workers) and input column chunks copied through
 * byte for byte read back as one file, values and statistics intact. The input is written by hyparquet-writer's
 * own parquetWrite (dictionaries, page indexes, several pages, nulls, REQUIRED and OPTIONAL columns); the result
 * is read back with hyparquet.
 */
import type { ColumnChunk, FileMetaData } from "hyparquet";
import { ByteWriter, parquetWrite } from "hyparquet-writer";
import { chunkRange, concatRowGroups, copiedChunk, encodeRowGroup, ParquetAssembler } from "../../service/src/scoring/parquet-chunks";

const ROWS = 5000;
const input = () => {
  const writer = new ByteWriter();
  parquetWrite({
    writer,
    columnData: [
      { name: "id", data: BigInt64Array.from({ length: ROWS }, (_, i) => BigInt(i)), type: "INT64", nullable: false },
      { name: "city", data: Array.from({ length: ROWS }, (_, i) => (i % 11 === 0 ? null : ["ATL", "ORD", "SFO"][i % 3])), type: "STRING" },
      { name: "x", data: Float64Array.from({ length: ROWS }, (_, i) => Math.sin(i)), type: "DOUBLE", columnIndex: true },
    ],
    rowGroupSize: 2000,
    pageSize: 4096,
  });
  return writer.getBuffer();
};

async function read(buffer: ArrayBuffer): Promise<{ rows: Record<string, unknown>[]; metadata: FileMetaData }> {
  const { parquetMetadata, parquetReadObjects } = await import("hyparquet");
  return { rows: await parquetReadObjects({ file: buffer }), metadata: parquetMetadata(buffer) };
}

test("input chunks copied through and a column encoded apart make one file with the input's values and statistics", async () => {
  const source = input();
  const { rows: original, metadata } = await read(source);
  const extra = { name: "score", type: "DOUBLE", repetition_type: "REQUIRED" } as const;
  const schema = [{ ...metadata.schema[0]!, num_children: 4 }, ...metadata.schema.slice(1), extra];
  const out: Uint8Array[] = [];
  const assembler = new ParquetAssembler(async (bytes) => void out.push(bytes.slice()), schema, [{ key: "k", value: "v" }]);
  let at = 0;
  for (const group of metadata.row_groups) {
    const rows = Number(group.num_rows);
    const copied = group.columns.map((chunk: ColumnChunk) => {
      const { start, end } = chunkRange(chunk);
      return copiedChunk(chunk, new Uint8Array(source.slice(start, end)), rows);
    });
    const score = encodeRowGroup([{ name: "root", num_children: 1 }, extra], [{ name: "score", data: Float64Array.from({ length: rows }, (_, i) => at + i) as unknown as unknown[] }]);
    await assembler.append(concatRowGroups([...copied, score], rows));
    at += rows;
  }
  await assembler.finish();
  const assembled = Buffer.concat(out);
  const { rows, metadata: written } = await read(assembled.buffer.slice(assembled.byteOffset, assembled.byteOffset + assembled.byteLength) as ArrayBuffer);
  expect(rows).toEqual(original.map((row, i) => ({ ...row, score: i })));
  expect(written.key_value_metadata).toEqual([{ key: "k", value: "v" }]);
  expect(written.row_groups.map((g) => Number(g.num_rows))).toEqual([2000, 2000, 1000]);
  written.row_groups.forEach((group, g) =>
    group.columns.slice(0, 3).forEach((chunk, c) => {
      const before = metadata.row_groups[g]!.columns[c]!.meta_data!;
      expect(chunk.meta_data!.statistics).toEqual(before.statistics);
      expect(chunk.meta_data!.encodings).toEqual(before.encodings);
      expect(chunk.meta_data!.total_compressed_size).toBe(before.total_compressed_size);
    }),
  );
});

test("an encoded row group's offsets are its own: appended anywhere, it reads back the same", async () => {
  const schema = [{ name: "root", num_children: 1 }, { name: "s", type: "BYTE_ARRAY", converted_type: "UTF8", repetition_type: "OPTIONAL" }] as const;
  const groups = [0, 1, 2].map((g) => encodeRowGroup([...schema], [{ name: "s", data: Array.from({ length: 300 + g }, (_, i) => (i % 5 === 0 ? null : `v${g}-${i % 17}`)) }]));
  for (const order of [[0, 1, 2], [2, 0, 1]]) {
    const out: Uint8Array[] = [];
    const assembler = new ParquetAssembler(async (bytes) => void out.push(bytes.slice()), [...schema]);
    for (const g of order) await assembler.append(groups[g]!);
    await assembler.finish();
    const bytes = Buffer.concat(out);
    const { rows } = await read(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
    expect(rows.map((r) => r.s)).toEqual(order.flatMap((g) => Array.from({ length: 300 + g }, (_, i) => (i % 5 === 0 ? null : `v${g}-${i % 17}`))));
  }
});
