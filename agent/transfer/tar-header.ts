// Tar headers this host writes itself, into the archive podman extracts (tar-walk.ts reads
// them): plain ustar, which Go's archive/tar (podman's reader) takes as it is.
import { BLOCK } from './tar-walk.ts';

/** A ustar header of a regular file, mode 0644, owned by root. */
export function fileHeader(name: string, size: number, mtime: number): Buffer {
  const header = Buffer.alloc(BLOCK);
  header.write(name, 0, 100, 'utf8');
  const octal = (value: number, at: number, width: number) => header.write(`${value.toString(8).padStart(width - 1, '0')}\0`, at, width, 'ascii');
  octal(0o644, 100, 8);
  octal(0, 108, 8);
  octal(0, 116, 8);
  if (size < 8 ** 11) {
    octal(size, 124, 12);
  } else {
    // Past 8 GiB: the base-256 form (GNU, which Go's archive/tar reads): high bit set, big-endian.
    header[124] = 0x80;
    header.writeBigUInt64BE(BigInt(size), 128);
  }
  octal(Math.floor(mtime / 1000), 136, 12);
  header.write('0', 156, 1, 'ascii');
  header.write('ustar\0', 257, 6, 'ascii');
  header.write('00', 263, 2, 'ascii');
  return withChecksum(header);
}

/** A tar hard link entry: `name` is made a link to `target`, both relative to where it is extracted. */
export function linkHeader(name: string, target: string, mtime: number): Buffer {
  const header = fileHeader(name, 0, mtime);
  header.write('1', 156, 1, 'ascii');
  header.write(target, 157, 100, 'utf8');
  return withChecksum(header);
}

/** The header with its checksum: its bytes summed with the checksum's own field read as spaces. */
function withChecksum(header: Buffer): Buffer {
  header.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'ascii');
  return header;
}
