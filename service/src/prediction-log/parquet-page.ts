/** Writing one column chunk's pages into a file (parquet-file.ts): v1 data pages and a dictionary page, Snappy-compressed. */
import { ByteSink } from "./byte-sink";
import { writeHybrid } from "./parquet-encodings";
import { writeDataPageHeader, writeDictionaryPageHeader, type Encoding } from "./parquet-thrift";
import { snappyCompress } from "./snappy";

// One encoder thread writes one page at a time: the scratch buffers are reused, not reallocated per page.
const body = new ByteSink(1 << 16);
const compressed = new ByteSink(1 << 16);
const header = new ByteSink(256);

export interface WrittenPage {
  /** Bytes in the file, header included, and what they would be uncompressed. */
  readonly compressedSize: number;
  readonly uncompressedSize: number;
}

/** The page body's scratch buffer, cleared: fill it with the values, then call writeDataPage. */
export function pageBody(): ByteSink {
  body.clear();
  return body;
}

/**
 * A DATA_PAGE (v1) of `values` rows from the filled pageBody() (the encoded non-null values), preceded by the
 * definition levels (1 = present) when the column is nullable.
 */
export function writeDataPage(file: ByteSink, encoding: Encoding, values: number, levels: Uint8Array | undefined): WrittenPage {
  let uncompressed: Uint8Array = body.subarray();
  if (levels) {
    // Levels go first: prepend them (4-byte length, then hybrid runs of width 1) before the values.
    const withLevels = new ByteSink(body.length + (values >> 2) + 16);
    withLevels.uint32(0);
    writeHybrid(withLevels, levels, values, 1);
    withLevels.setUint32(0, withLevels.length - 4);
    withLevels.bytes(uncompressed);
    uncompressed = withLevels.subarray();
  }
  compressed.clear();
  snappyCompress(uncompressed, compressed);
  header.clear();
  writeDataPageHeader(header, { uncompressedSize: uncompressed.length, compressedSize: compressed.length, values, encoding });
  return append(file, uncompressed.length);
}

/** The dictionary page of a chunk from the filled pageBody() (its entries, PLAIN). */
export function writeDictionaryPage(file: ByteSink, entries: number): WrittenPage {
  compressed.clear();
  snappyCompress(body.subarray(), compressed);
  header.clear();
  writeDictionaryPageHeader(header, { uncompressedSize: body.length, compressedSize: compressed.length, values: entries });
  return append(file, body.length);
}

function append(file: ByteSink, uncompressedBody: number): WrittenPage {
  file.bytes(header.subarray());
  file.bytes(compressed.subarray());
  return { compressedSize: header.length + compressed.length, uncompressedSize: header.length + uncompressedBody };
}
