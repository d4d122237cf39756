/* Reading a tab-separated block in one pass: fields split and text ids dictionary-encoded in C.
 *
 * analytics/sources/_fast_read.py calls these through ctypes (the GIL released for the call). A block
 * is whole lines. Each column is skipped, encoded (a hash table of 64-bit keys gives each distinct
 * text a code in the order it is first met) or kept as spans (offset and length per row). Anything
 * the fast way does not read the way pyarrow does (a quote opening a field, a lone carriage
 * return, a row with the wrong number of fields) stops the block with a status, and the caller
 * reads the file the slow way, which explains the problem by physical line.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>
#include <emmintrin.h>

enum { SKIP = 0, ENCODE = 1, SPANS = 2 };
enum { QUOTED = -1, WRONG_FIELDS = -2, LONE_CR = -3, COLLISION = -4, FULL = -5 };

typedef struct {
    uint64_t key;   /* first hash of the text; 0 marks an empty slot (a text hashing to 0 is given 1) */
    uint32_t check; /* second hash: two texts sharing a key are told apart, never merged */
    int32_t code;
} Slot;

typedef struct {
    Slot *slots;
    int64_t mask;      /* slots - 1, a power of two less one */
    int64_t count;     /* distinct texts so far */
    int64_t limit;     /* count the table may reach before the caller must grow it */
    int32_t *codes;    /* per row of the block: the code, -1 for an empty field */
    int64_t *new_start; /* per text new in this block: its offset and length in the block, its row */
    int32_t *new_len;
    int64_t *new_row;
    int64_t new_count;
    const uint8_t *last; /* the last text encoded in this block (NULL: none yet), its length and code */
    int64_t last_len;
    int32_t last_code;
} Table;

typedef struct {
    int64_t *start;
    int32_t *len;
} Spans;

static inline uint64_t mix(uint64_t x) {
    x ^= x >> 30;
    x *= 0xBF58476D1CE4E5B9ULL;
    x ^= x >> 27;
    x *= 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

/* The 8-byte word at p holding the n (1..8) bytes of a text's end: the block's padding makes the load safe. */
static inline uint64_t word(const uint8_t *p, int64_t n) {
    uint64_t w;
    memcpy(&w, p, 8);
    return n >= 8 ? w : w & ((1ULL << (8 * n)) - 1);
}

static inline uint64_t rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

/* Two hashes of a text: xxHash64's round per word, splitmix64's finaliser at the end. */
static inline void hash_text(const uint8_t *p, int64_t n, uint64_t seed, uint64_t *first, uint32_t *second) {
    uint64_t a = seed ^ ((uint64_t)n * 0x9E3779B185EBCA87ULL), b = seed + (uint64_t)n + 0x27D4EB2F165667C5ULL;
    for (; n > 0; p += 8, n -= 8) {
        uint64_t w = word(p, n);
        a = rotl(a + w * 0xC2B2AE3D27D4EB4FULL, 31) * 0x9E3779B185EBCA87ULL;
        b = rotl(b ^ (w * 0x165667B19E3779F9ULL), 27) * 0x85EBCA77C2B2AE63ULL;
    }
    a = mix(a);
    *first = a ? a : 1;
    *second = (uint32_t)(mix(b) >> 32);
}

/* Find key in t, or add it with the next code; the code, or a status (< 0). */
static inline int64_t probe(Table *t, uint64_t key, uint32_t check, int64_t start, int64_t n, int64_t row) {
    for (int64_t i = (int64_t)(key & (uint64_t)t->mask);; i = (i + 1) & t->mask) {
        Slot *s = &t->slots[i];
        if (s->key == key)
            return s->check == check ? s->code : COLLISION;
        if (s->key == 0) {
            if (t->count >= t->limit)
                return FULL;
            s->key = key;
            s->check = check;
            s->code = (int32_t)t->count;
            t->new_start[t->new_count] = start;
            t->new_len[t->new_count] = (int32_t)n;
            t->new_row[t->new_count++] = row;
            return t->count++;
        }
    }
}

static inline int encode(Table *t, const uint8_t *base, int64_t start, int64_t n, int64_t row, uint64_t seed) {
    if (n == 0) {
        t->codes[row] = -1;
        return 0;
    }
    const uint8_t *text = base + start;
    if (n == t->last_len && t->last && memcmp(text, t->last, (size_t)n) == 0) {
        t->codes[row] = t->last_code; /* the row before's text (an assignment's worker, times): no hash */
        return 0;
    }
    uint64_t key;
    uint32_t check;
    hash_text(text, n, seed, &key, &check);
    int64_t code = probe(t, key, check, start, n, row);
    if (code < 0)
        return (int)code;
    t->codes[row] = t->last_code = (int32_t)code;
    t->last = text;
    t->last_len = n;
    return 0;
}

/* Positions of the bytes in p[0:64] that are sep, a line break, a carriage return or a quote, as bits. */
static inline uint64_t structural(const uint8_t *p, __m128i sep) {
    const __m128i nl = _mm_set1_epi8('\n'), cr = _mm_set1_epi8('\r'), quote = _mm_set1_epi8('"');
    uint64_t bits = 0;
    for (int k = 0; k < 4; k++) {
        __m128i v = _mm_loadu_si128((const __m128i *)(p + 16 * k));
        __m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, sep), _mm_cmpeq_epi8(v, nl)),
                                   _mm_or_si128(_mm_cmpeq_epi8(v, cr), _mm_cmpeq_epi8(v, quote)));
        bits |= (uint64_t)(uint16_t)_mm_movemask_epi8(hit) << (16 * k);
    }
    return bits;
}

typedef struct {
    const uint8_t *data;
    int32_t columns;
    const int32_t *kind, *target;
    Table **tables;
    Spans **spans;
    uint64_t seed;
} Reader;

static inline int field(const Reader *r, int32_t col, int64_t begin, int64_t end, int64_t row) {
    if (col >= r->columns)
        return 0;
    int32_t k = r->kind[col];
    if (k == ENCODE)
        return encode(r->tables[r->target[col]], r->data, begin, end - begin, row, r->seed);
    if (k == SPANS) {
        r->spans[r->target[col]]->start[row] = begin;
        r->spans[r->target[col]]->len[row] = (int32_t)(end - begin);
    }
    return 0;
}

/* A record's last field (column col), then its number of fields checked: 0, or a status. */
static inline int end_record(const Reader *r, int32_t col, int64_t begin, int64_t end, int64_t row) {
    int status = field(r, col, begin, end, row);
    return status ? status : col + 1 == r->columns ? 0 : WRONG_FIELDS;
}

/* Read the rows of data[0:size] (whole lines; the last may lack its line break; 64 readable bytes
 * past the end). kind[c] and target[c] say what becomes of column c: skipped, encoded into
 * tables[target[c]] or kept in spans[target[c]]. Returns the rows read, or a status (< 0) with
 * *where set to the offset of the line it stopped at. *newlines counts every line break read,
 * blank lines' too. */
int64_t crowdlens_read_block(const uint8_t *data, int64_t size, uint8_t sep, int32_t columns,
                             const int32_t *kind, const int32_t *target, Table **tables, Spans **spans,
                             uint64_t seed, int64_t *newlines, int64_t *where) {
    Reader r = {data, columns, kind, target, tables, spans, seed};
    const __m128i seps = _mm_set1_epi8((char)sep);
    int64_t row = 0, breaks = 0, line = 0, begin = 0;
    int32_t col = 0;
    int status = 0;
    for (int64_t base = 0; base < size; base += 64) {
        uint64_t bits = structural(data + base, seps);
        if (size - base < 64)
            bits &= (1ULL << (size - base)) - 1;
        while (bits) {
            int64_t at = base + __builtin_ctzll(bits);
            bits &= bits - 1;
            uint8_t c = data[at];
            if (c == '"') {
                if (at == begin) {
                    status = QUOTED;
                    goto stop;
                }
            } else if (c == '\r') {
                if (at + 1 >= size || data[at + 1] != '\n') {
                    status = LONE_CR;
                    goto stop;
                }
            } else if (c == (uint8_t)sep) {
                if ((status = field(&r, col++, begin, at, row)))
                    goto stop;
                begin = at + 1;
            } else { /* a line break ends the record, or a blank line (no record, as pyarrow skips it) */
                int64_t end = at > begin && data[at - 1] == '\r' ? at - 1 : at;
                breaks++;
                if (col > 0 || end > begin) {
                    if ((status = end_record(&r, col, begin, end, row++)))
                        goto stop;
                }
                col = 0;
                line = begin = at + 1;
            }
        }
    }
    if ((col > 0 || begin < size) && (status = end_record(&r, col, begin, size, row++))) /* no last break */
        goto stop;
    *newlines = breaks;
    *where = size;
    return row;
stop:
    *newlines = breaks;
    *where = line;
    return status;
}

/* Encode the n texts at starts/lens of data into t (codes and new texts as crowdlens_read_block
 * gives them). Returns 0, or a status with *where set to the index it stopped at. */
int64_t crowdlens_encode_spans(Table *t, const uint8_t *data, const int64_t *starts, const int32_t *lens,
                               int64_t n, uint64_t seed, int64_t *where) {
    enum { AHEAD = 16 }; /* texts hashed ahead, their slots fetched into cache while the ones before are probed */
    uint64_t keys[AHEAD];
    uint32_t checks[AHEAD];
    for (int64_t i = 0; i < n; i += AHEAD) {
        int64_t m = n - i < AHEAD ? n - i : AHEAD;
        for (int64_t j = 0; j < m; j++) {
            hash_text(data + starts[i + j], lens[i + j], seed, &keys[j], &checks[j]);
            __builtin_prefetch(&t->slots[keys[j] & (uint64_t)t->mask]);
        }
        for (int64_t j = 0; j < m; j++) {
            int64_t row = i + j;
            if (lens[row] == 0) {
                t->codes[row] = -1;
                continue;
            }
            int64_t code = probe(t, keys[j], checks[j], starts[row], lens[row], row);
            if (code < 0) {
                *where = row;
                return code;
            }
            t->codes[row] = (int32_t)code;
        }
    }
    *where = n;
    return 0;
}

static inline void place(Slot *fresh, int64_t mask, const Slot *s) {
    int64_t j = (int64_t)(s->key & (uint64_t)mask);
    while (fresh[j].key)
        j = (j + 1) & mask;
    fresh[j] = *s;
}

/* Put every used slot of old (old_mask + 1 slots) into the empty table of new_mask + 1 slots; the
 * new slots of the next few are fetched into cache while one is placed. */
void crowdlens_rehash(const Slot *old, int64_t old_mask, Slot *fresh, int64_t new_mask) {
    enum { AHEAD = 16 };
    const Slot *queue[AHEAD];
    int64_t queued = 0, placed = 0;
    for (int64_t i = 0; i <= old_mask; i++) {
        if (!old[i].key)
            continue;
        if (queued - placed == AHEAD)
            place(fresh, new_mask, queue[placed++ % AHEAD]);
        __builtin_prefetch(&fresh[old[i].key & (uint64_t)new_mask], 1);
        queue[queued++ % AHEAD] = &old[i];
    }
    while (placed < queued)
        place(fresh, new_mask, queue[placed++ % AHEAD]);
}

/* Copy the n texts at starts/lens of data one after the other into out (offsets[0..n] written). */
void crowdlens_gather(const uint8_t *data, const int64_t *starts, const int32_t *lens, int64_t n,
                      int64_t *offsets, uint8_t *out) {
    int64_t at = 0;
    for (int64_t i = 0; i < n; i++) {
        offsets[i] = at;
        memcpy(out + at, data + starts[i], (size_t)lens[i]);
        at += lens[i];
    }
    offsets[n] = at;
}

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_fast_read_c",
                                    "The C functions of analytics.sources._fast_read (called through ctypes).", -1,
                                    NULL};

PyMODINIT_FUNC PyInit__fast_read_c(void) { return PyModule_Create(&module); }
