/*
 * proto/wire.h - frames and primitive types of the native protocol. Prose,
 * every API body and the connection rules: docs/protocol.md.
 *
 * [frame-header] Every request and response starts with 24 bytes,
 * little-endian:
 *
 *   off size field           meaning
 *     0   4  frame_bytes     uint32, bytes after this field (header rest + body), >= 20;
 *                            checked against the receiver's limit before anything else
 *     4   4  crc32c          CRC32C of bytes [8, 4 + frame_bytes)
 *     8   2  api_key         uint16, enum sb_api_key
 *    10   2  api_version     uint16
 *    12   4  correlation_id  uint32, echoed in the response
 *    16   2  flags           bit 0 response, bit 1 request expects no response
 *                            (Produce acks=0); other bits 0; never both bits
 *    18   2  error_code      int16 enum sb_wire_error; response: frame-level error
 *                            (then the body is empty); request: 0
 *    20   4  reserved        0
 *    24   -  body            frame_bytes - 20 bytes
 *
 * [wire-primitives] Integers are fixed-width little-endian. string = uint16
 * length + bytes (0xFFFF = null where nullable, so at most 65534 bytes);
 * bytes = uint32 length + bytes (0xFFFFFFFF = null where nullable); array =
 * uint32 count + elements (0xFFFFFFFF = null where nullable). A count above
 * SB_WIRE_ARRAY_COUNT_MAX, or one whose elements cannot fit in the bytes
 * left (count x smallest element > remaining), is corrupt before any element
 * is read.
 *
 * Reading: struct sb_wire_reader has a sticky error. Decoders read fields in
 * straight-line code and check once at the end (sb_wire_reader_finish);
 * after the first failure every read returns zero/empty and moves nothing.
 * Arrays are captured as struct sb_wire_array: the decoder walks them once to
 * find their end (checking every element), and iterators then hand out the
 * elements one by one, with pointers into the caller's buffer. Nothing here
 * allocates or does I/O.
 *
 * Writing: struct sb_wire_writer, also with a sticky error (-ENOSPC when the
 * buffer is full, -EINVAL for a value the format cannot carry). Frames are
 * sb_frame_begin, then a body encoder, then sb_frame_finish, which backfills
 * frame_bytes and the CRC.
 */
#ifndef SB_PROTO_WIRE_H
#define SB_PROTO_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "proto/errors.h"

#define SB_FRAME_HEADER_BYTES 24
/* The frame_bytes field; frame_bytes counts what follows it. */
#define SB_FRAME_PREFIX_BYTES 4
/* Smallest frame_bytes: the header after the prefix, with an empty body. */
#define SB_FRAME_BYTES_MIN (SB_FRAME_HEADER_BYTES - SB_FRAME_PREFIX_BYTES)

/* Byte offsets of the header fields ([frame-header]). */
#define SB_FRAME_OFFSET_FRAME_BYTES 0
#define SB_FRAME_OFFSET_CRC 4
#define SB_FRAME_OFFSET_API_KEY 8
#define SB_FRAME_OFFSET_API_VERSION 10
#define SB_FRAME_OFFSET_CORRELATION_ID 12
#define SB_FRAME_OFFSET_FLAGS 16
#define SB_FRAME_OFFSET_ERROR_CODE 18
#define SB_FRAME_OFFSET_RESERVED 20

/* Flag bits ([frame-header]). */
#define SB_FRAME_FLAG_RESPONSE 0x0001u
#define SB_FRAME_FLAG_NO_RESPONSE 0x0002u
#define SB_FRAME_FLAGS_DEFINED 0x0003u

/* Null and largest lengths of the primitives ([wire-primitives]). */
#define SB_WIRE_STRING_NULL 0xFFFFu
#define SB_WIRE_STRING_BYTES_MAX 0xFFFEu
#define SB_WIRE_BYTES_NULL 0xFFFFFFFFu
#define SB_WIRE_BYTES_LENGTH_MAX 0xFFFFFFFEu
#define SB_WIRE_ARRAY_NULL 0xFFFFFFFFu

/* The APIs (docs/protocol.md, "APIs"). Values are wire values and never change. */
enum sb_api_key {
    SB_API_API_VERSIONS = 0,
    SB_API_METADATA = 1,
    SB_API_PRODUCE = 2,
    SB_API_FETCH = 3,
    SB_API_LIST_OFFSETS = 4,
    SB_API_INIT_PRODUCER_ID = 5,
    SB_API_CREATE_TOPICS = 6,
    SB_API_DELETE_TOPICS = 7,
    SB_API_LIST_TOPICS = 8,
    SB_API_DESCRIBE_TOPIC = 9,
    SB_API_ALTER_TOPIC_CONFIG = 10,
    SB_API_HEALTH = 11,
    SB_API_OFFSET_COMMIT = 12,
    SB_API_OFFSET_FETCH = 13,
    SB_API_GROUP_HEARTBEAT = 14,
    SB_API_LIST_GROUPS = 15,
    SB_API_DESCRIBE_GROUP = 16,
    SB_API_DELETE_GROUP = 17,
    SB_API_ALTER_GROUP_OFFSETS = 18,
};

/* Number of API keys: 0 .. SB_API_COUNT - 1. */
#define SB_API_COUNT 19

/* The versions of one API that a peer supports; also an element of ApiVersions. */
struct sb_api_version_range {
    uint16_t api_key;     /* enum sb_api_key (a peer may list keys this build lacks). */
    uint16_t min_version; /* Oldest version supported. */
    uint16_t max_version; /* Newest version supported, >= min_version. */
};

/* Sets *out to this build's supported ranges, one per key in key order (static storage)
 * and returns how many there are (SB_API_COUNT). */
uint32_t sb_api_version_ranges(const struct sb_api_version_range **out);

/* The API's name as in docs/protocol.md ("Produce"), or "unknown". Never NULL; static. */
const char *sb_api_name(uint16_t api_key);

/* What a broker answers for a request with this key and version: NONE when this build
 * decodes it, UNKNOWN_API for an unknown key, UNSUPPORTED_VERSION for a known key with a
 * version outside its range. */
enum sb_wire_error sb_api_check(uint16_t api_key, uint16_t api_version);

/* A decoded [frame-header]. */
struct sb_frame_header {
    uint32_t frame_bytes;    /* Bytes after the length field (0 while not yet known). */
    uint32_t crc32c;         /* Stored CRC32C of bytes [8, 4 + frame_bytes). */
    uint16_t api_key;        /* enum sb_api_key, not checked by the decoder. */
    uint16_t api_version;    /* Not checked by the decoder. */
    uint32_t correlation_id; /* Chosen by the client, echoed by the broker. */
    uint16_t flags;          /* SB_FRAME_FLAG_* bits. */
    int16_t error_code;      /* enum sb_wire_error; always 0 in a request. */
};

/* A whole, CRC-checked frame inside the caller's buffer. */
struct sb_frame {
    struct sb_frame_header header; /* The checked header. */
    const uint8_t *body;           /* body_bytes bytes after the header (borrowed). */
    uint32_t body_bytes;           /* frame_bytes - 20. */
};

/*
 * Decodes the frame header at bytes (available bytes present, borrowed for
 * the call). Returns
 *   0            the header is valid and the whole frame (4 + frame_bytes
 *                bytes) is present;
 *   -EAGAIN      more bytes are needed: sb_frame_total_bytes(out) says how
 *                many in all. With available >= 24 this means the header is
 *                valid and only the body is missing;
 *   -EMSGSIZE    frame_bytes > frame_bytes_max, found from the first 4 bytes
 *                alone (never wait for such a body);
 *   SB_ECORRUPT  frame_bytes < 20, an undefined flag bit, both flag bits, a
 *                request with a nonzero error_code, or a nonzero reserved
 *                field (found once 24 bytes are present, before the body).
 * *out is always written: frame_bytes once 4 bytes are present, the other
 * fields once 24 are, even on error (unchecked then, e.g. for echoing the
 * correlation id in an error response). The CRC is not checked here; see
 * sb_frame_verify_crc. frame_bytes_max must be >= SB_FRAME_BYTES_MIN.
 */
int sb_frame_header_decode(const uint8_t *bytes, size_t available, uint32_t frame_bytes_max,
                           struct sb_frame_header *out);

/* Bytes the frame of header occupies in all: 4 + frame_bytes, or 24 while frame_bytes is
 * still unknown (fewer than 4 bytes were available). */
static inline size_t
sb_frame_total_bytes(const struct sb_frame_header *header)
{
    return header->frame_bytes == 0 ? (size_t)SB_FRAME_HEADER_BYTES
                                    : (size_t)SB_FRAME_PREFIX_BYTES + header->frame_bytes;
}

static inline bool
sb_frame_header_is_response(const struct sb_frame_header *header)
{
    return (header->flags & SB_FRAME_FLAG_RESPONSE) != 0;
}

/* Checks the CRC of the frame at bytes (available bytes, borrowed) against header, which
 * sb_frame_header_decode filled from the same bytes. Returns 0; -EAGAIN when the frame is
 * not all present; SB_ECORRUPT on a mismatch. */
int sb_frame_verify_crc(const uint8_t *bytes, size_t available,
                        const struct sb_frame_header *header);

/* sb_frame_header_decode plus sb_frame_verify_crc: returns 0 with the header and the body
 * (pointing into bytes) in *out, or any error of the two. *out is untouched on error. */
int sb_frame_decode(const uint8_t *bytes, size_t available, uint32_t frame_bytes_max,
                    struct sb_frame *out);

/* A string field: chars is NULL for the null string, else points at length bytes (not
 * NUL-terminated). Decoders point into the receive buffer; encoders copy. */
struct sb_wire_string {
    const char *chars; /* length bytes, borrowed; NULL = null string. */
    uint16_t length;   /* Bytes at chars; 0 when null. */
};

/* A bytes field: data is NULL for null bytes. */
struct sb_wire_bytes {
    const uint8_t *data; /* length bytes, borrowed; NULL = null. */
    uint32_t length;     /* Bytes at data; 0 when null. */
};

/* A string that borrows the NUL-terminated cstr (or the null string for NULL). A string
 * longer than the format allows gets length 0xFFFF, which encoders refuse with -EINVAL. */
static inline struct sb_wire_string
sb_wire_string_from_cstr(const char *cstr)
{
    size_t length = cstr == NULL ? 0 : strlen(cstr);
    struct sb_wire_string string = {
        .chars = cstr,
        .length = (uint16_t)(length > SB_WIRE_STRING_BYTES_MAX ? SB_WIRE_STRING_NULL : length),
    };
    return string;
}

/* True when string is not null and holds exactly the bytes of cstr. */
static inline bool
sb_wire_string_equals(struct sb_wire_string string, const char *cstr)
{
    return string.chars != NULL && strlen(cstr) == string.length &&
           memcmp(string.chars, cstr, string.length) == 0;
}

/* Bytewise order of two strings (a prefix first): < 0, 0 or > 0, as memcmp. */
static inline int
sb_wire_string_compare(struct sb_wire_string a, struct sb_wire_string b)
{
    int order = memcmp(a.chars, b.chars, a.length < b.length ? a.length : b.length);
    return order != 0 ? order : (a.length > b.length) - (a.length < b.length);
}

/* Bounded reader over caller bytes with a sticky error. */
struct sb_wire_reader {
    const uint8_t *cursor; /* Next byte to read (borrowed buffer). */
    const uint8_t *end;    /* One past the last byte that may be read. */
    int error;             /* 0, or SB_ECORRUPT once a read failed; then reads do nothing. */
};

/* Reads from bytes[0, length) (borrowed until reading ends). */
void sb_wire_reader_init(struct sb_wire_reader *reader, const uint8_t *bytes, size_t length);

static inline size_t
sb_wire_reader_remaining(const struct sb_wire_reader *reader)
{
    return (size_t)(reader->end - reader->cursor);
}

/* Returns the reader's error, or SB_ECORRUPT when bytes remain unread; 0 when exactly
 * everything was read. Every body decoder ends with it: trailing bytes are corrupt. */
int sb_wire_reader_finish(const struct sb_wire_reader *reader);

/* Fixed-width reads. Past the end they set the sticky error and return 0. */
uint8_t sb_wire_read_u8(struct sb_wire_reader *reader);
int8_t sb_wire_read_i8(struct sb_wire_reader *reader);
uint16_t sb_wire_read_u16(struct sb_wire_reader *reader);
int16_t sb_wire_read_i16(struct sb_wire_reader *reader);
uint32_t sb_wire_read_u32(struct sb_wire_reader *reader);
int32_t sb_wire_read_i32(struct sb_wire_reader *reader);
uint64_t sb_wire_read_u64(struct sb_wire_reader *reader);
int64_t sb_wire_read_i64(struct sb_wire_reader *reader);

/* Length-prefixed reads; *out points into the reader's bytes. The plain forms treat the
 * null length as corrupt. A length past the end is corrupt. On error *out is null. */
void sb_wire_read_string(struct sb_wire_reader *reader, struct sb_wire_string *out);
void sb_wire_read_string_nullable(struct sb_wire_reader *reader, struct sb_wire_string *out);
void sb_wire_read_bytes(struct sb_wire_reader *reader, struct sb_wire_bytes *out);
void sb_wire_read_bytes_nullable(struct sb_wire_reader *reader, struct sb_wire_bytes *out);

/* Reads an array count and checks it before any element is read: above
 * SB_WIRE_ARRAY_COUNT_MAX (the null count included), or count x element_bytes_min (>= 1,
 * the smallest encoding of one element) above the bytes left, is corrupt. Returns the count,
 * or 0 on error. */
uint32_t sb_wire_read_array_count(struct sb_wire_reader *reader, uint32_t element_bytes_min);

/* An array found in a body: its elements, walked and checked once by the decoder. */
struct sb_wire_array {
    struct sb_wire_reader reader; /* The elements not yet returned; ends where the array ends. */
    uint32_t count;               /* Elements in the array. */
    uint32_t index;               /* Elements returned so far. */
};

/*
 * Reads an array: its count (as sb_wire_read_array_count), then every element
 * with element_read (which reads one element from the reader into an element
 * struct, here scratch, and sets the reader's error on failure), so *out
 * covers exactly the array's bytes. On error *out is an empty array carrying
 * the error. The _nullable form returns true for the null array (then *out is
 * empty and valid).
 */
void sb_wire_read_array(struct sb_wire_reader *reader, uint32_t element_bytes_min,
                        void (*element_read)(struct sb_wire_reader *reader, void *element),
                        void *scratch, struct sb_wire_array *out);
bool sb_wire_read_array_nullable(struct sb_wire_reader *reader, uint32_t element_bytes_min,
                                 void (*element_read)(struct sb_wire_reader *reader,
                                                      void *element),
                                 void *scratch, struct sb_wire_array *out);

/* Returns 1 with the next element read by element_read into *element; 0 after the last one;
 * SB_ECORRUPT if the array's bytes do not hold its elements (never for an array from a
 * decoder that returned 0). Element pointers borrow the decoded buffer. */
int sb_wire_array_next(struct sb_wire_array *array,
                       void (*element_read)(struct sb_wire_reader *reader, void *element),
                       void *element);

/* Byte runs of the current frame whose CRC32C is already known: sb_frame_finish combines
 * it instead of reading them again (sb_wire_write_bytes_crc). Past this many runs, a frame's
 * further runs are read as usual. */
#define SB_WIRE_KNOWN_CRC_RUNS_MAX 8

/* A run of bytes in the writer's buffer with a known CRC32C (computed from 0). */
struct sb_wire_known_crc {
    uint32_t offset; /* From the buffer's start. */
    uint32_t length; /* Bytes. */
    uint32_t crc;    /* sb_crc32c(0, run, length). */
};

/* Bounded writer into a caller buffer with a sticky error. */
struct sb_wire_writer {
    uint8_t *start;  /* The caller's buffer (borrowed until the bytes are used). */
    uint8_t *cursor; /* Next byte to write. */
    uint8_t *end;    /* One past the last usable byte. */
    uint8_t *frame;  /* Header of the frame begun and not yet finished, or NULL. */
    int error;       /* 0, or the first failure (-ENOSPC, -EINVAL); then writes do nothing. */
    uint32_t known_crc_count; /* Runs in known_crcs, in buffer order (the current frame's). */
    struct sb_wire_known_crc known_crcs[SB_WIRE_KNOWN_CRC_RUNS_MAX];
};

/* Writes into buffer[0, capacity) (capacity is clamped to UINT32_MAX). */
void sb_wire_writer_init(struct sb_wire_writer *writer, uint8_t *buffer, size_t capacity);

/* Bytes written so far. */
static inline size_t
sb_wire_writer_length(const struct sb_wire_writer *writer)
{
    return (size_t)(writer->cursor - writer->start);
}

/* Fixed-width writes. A write that does not fit writes nothing and sets -ENOSPC. */
void sb_wire_write_u8(struct sb_wire_writer *writer, uint8_t value);
void sb_wire_write_i8(struct sb_wire_writer *writer, int8_t value);
void sb_wire_write_u16(struct sb_wire_writer *writer, uint16_t value);
void sb_wire_write_i16(struct sb_wire_writer *writer, int16_t value);
void sb_wire_write_u32(struct sb_wire_writer *writer, uint32_t value);
void sb_wire_write_i32(struct sb_wire_writer *writer, int32_t value);
void sb_wire_write_u64(struct sb_wire_writer *writer, uint64_t value);
void sb_wire_write_i64(struct sb_wire_writer *writer, int64_t value);

/* Length-prefixed writes (the value's bytes are copied). -EINVAL for a null value in the
 * plain forms, or a length the format cannot carry (string > 65534, bytes > 0xFFFFFFFE).
 * Bytes may lie in the writer's own buffer at or after where they are written: they are moved
 * down, or left alone when already in place. */
void sb_wire_write_string(struct sb_wire_writer *writer, struct sb_wire_string value);
void sb_wire_write_string_nullable(struct sb_wire_writer *writer, struct sb_wire_string value);
void sb_wire_write_bytes(struct sb_wire_writer *writer, struct sb_wire_bytes value);
void sb_wire_write_bytes_nullable(struct sb_wire_writer *writer, struct sb_wire_bytes value);
/* sb_wire_write_bytes of bytes whose CRC32C (from 0) the caller knows, such as whole record
 * batches whose CRCs a storage read checked: the frame's CRC combines `crc` instead of
 * reading them again. A wrong crc makes the frame's CRC wrong (the peer refuses it). */
void sb_wire_write_bytes_crc(struct sb_wire_writer *writer, struct sb_wire_bytes value,
                             uint32_t crc);

/* Writes an array count; -EINVAL above SB_WIRE_ARRAY_COUNT_MAX. */
void sb_wire_write_array_count(struct sb_wire_writer *writer, uint32_t count);
/* Writes the null array. */
void sb_wire_write_array_null(struct sb_wire_writer *writer);

/* Writes count, then each of the count elements (element_size bytes apart at elements,
 * borrowed for the call) with element_write. -EINVAL when count > 0 and elements is NULL. */
void sb_wire_write_array(struct sb_wire_writer *writer, const void *elements, uint32_t count,
                         size_t element_size,
                         void (*element_write)(struct sb_wire_writer *writer,
                                               const void *element));

/* Reserves length bytes for the caller to fill (e.g. records read straight from storage)
 * and returns them, or NULL (with -ENOSPC set) when they do not fit. */
uint8_t *sb_wire_write_reserve(struct sb_wire_writer *writer, size_t length);

/*
 * Starts a frame at the writer's cursor: writes the 24-byte header from
 * *header (frame_bytes and crc32c are ignored and backfilled by
 * sb_frame_finish; reserved is 0). A header the decoder would refuse (see
 * sb_frame_header_decode) sets -EINVAL. Returns the writer's error. A frame
 * must be finished before the next one begins (asserted).
 */
int sb_frame_begin(struct sb_wire_writer *writer, const struct sb_frame_header *header);

/*
 * Completes the frame begun last: backfills frame_bytes and the CRC. Returns
 * 0; or the writer's error, after rewinding the cursor to the frame's start
 * and clearing the error, so a frame that failed leaves no bytes behind and
 * the writer can take another (e.g. an error response).
 */
int sb_frame_finish(struct sb_wire_writer *writer);

/* Writes a whole response frame to request (same key, version and correlation id) with
 * frame-level error (not NONE) and an empty body: the broker's answer to an unknown API or
 * version, a malformed body, and the like. Returns as sb_frame_finish. */
int sb_frame_error_response_encode(struct sb_wire_writer *writer,
                                   const struct sb_frame_header *request,
                                   enum sb_wire_error error);

#endif /* SB_PROTO_WIRE_H */
