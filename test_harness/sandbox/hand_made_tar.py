"""Tar blocks written byte by byte, for archives no tar writer makes (hostile or malformed
ones): a ustar header, data padded to the 512-byte record, a pax extended-header record.

Layout: POSIX.1-2001 ustar header (name 0-100, mode 100, uid 108, gid 116, size 124, mtime 136,
checksum 148 computed with the checksum field as eight spaces, typeflag 156, magic "ustar\\0"
and version "00" at 257); pax records "<length> <key>=<value>\\n" where length counts itself
(pubs.opengroup.org pax, "pax Extended Header").
"""

BLOCK = 512


def header(name, typeflag=b"0", size=0, mtime=1700000000):
    """One ustar header block for `name` (bytes, at most 100) of `size` bytes."""
    block = bytearray(BLOCK)
    block[0:len(name)] = name
    block[100:108], block[108:116], block[116:124] = b"0000644\0", b"0000000\0", b"0000000\0"
    block[124:136], block[136:148] = b"%011o\0" % size, b"%011o\0" % mtime
    block[156:157], block[257:265] = typeflag, b"ustar\x0000"
    block[148:156] = b" " * 8
    block[148:156] = b"%06o\0 " % sum(block)
    return bytes(block)


def padded(data):
    """`data` followed by zeros up to the next 512-byte boundary."""
    return data + bytes(-len(data) % BLOCK)


def pax_record(key, value):
    """b"<length> key=value\\n", the length counting its own digits."""
    text = b" %s=%s\n" % (key, value)
    length = len(text) + len(str(len(text)))
    if len(str(length)) != len(str(len(text))):
        length += 1
    return b"%d%s" % (length, text)


def end_of_archive(raw, record_size=10240):
    """`raw` members, the two zero blocks that end an archive, padded to a whole record."""
    raw += bytes(2 * BLOCK)
    return raw + bytes(-len(raw) % record_size)
