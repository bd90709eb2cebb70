/* Just enough of NumPy's .npz format for a port in C: read the float32 arrays of an archive that
 * numpy.savez wrote (stored, not compressed; zip64 local headers), and write float32 arrays into a
 * new archive that numpy.load reads back. C99 and the standard library only.
 *
 *   npz_array a = npz_read(path, "hidden/kernel");   a.data, a.shape[0..a.ndim-1]; free(a.data)
 *   npz_writer *w = npz_open(path); npz_add(w, "output", data, ndim, shape); npz_close(w);
 */
#ifndef NPZ_H
#define NPZ_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct { float *data; int ndim; long shape[8]; long size; } npz_array;

static void npz_fail(const char *what, const char *name) {
    fprintf(stderr, "npz: %s: %s\n", what, name);
    exit(2);
}

static uint32_t npz_le(const unsigned char *p, int n) {
    uint32_t v = 0;
    for (int i = n - 1; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

/* The .npy header: magic, version, header length, then a dict such as
 * {'descr': '<f4', 'fortran_order': False, 'shape': (200, 2), } */
static npz_array npz_parse_npy(const unsigned char *p, const char *name) {
    npz_array a = {0};
    if (memcmp(p, "\x93NUMPY", 6) != 0) npz_fail("not an .npy entry", name);
    int major = p[6];
    uint32_t header = major == 1 ? npz_le(p + 8, 2) : npz_le(p + 8, 4);
    const char *dict = (const char *)p + (major == 1 ? 10 : 12);
    char text[1024];
    if (header >= sizeof text) npz_fail("header too long", name);
    memcpy(text, dict, header);
    text[header] = 0;
    if (!strstr(text, "'descr': '<f4'")) npz_fail("not little-endian float32 (declare the port's dtype float32)", name);
    if (strstr(text, "'fortran_order': True")) npz_fail("Fortran order is not supported", name);
    const char *s = strstr(text, "'shape': (");
    if (!s) npz_fail("no shape", name);
    s += strlen("'shape': (");
    a.size = 1;
    while (*s && *s != ')') {
        char *end;
        long side = strtol(s, &end, 10);
        if (end == s) break;
        a.shape[a.ndim++] = side;
        a.size *= side;
        s = end;
        while (*s == ',' || *s == ' ') s++;
    }
    a.data = malloc(sizeof(float) * (a.size ? a.size : 1));
    memcpy(a.data, dict + header, sizeof(float) * a.size);
    return a;
}

static npz_array npz_read(const char *path, const char *array) {
    FILE *f = fopen(path, "rb");
    if (!f) npz_fail("cannot open", path);
    fseek(f, 0, SEEK_END);
    long length = ftell(f);
    rewind(f);
    unsigned char *bytes = malloc(length);
    if (fread(bytes, 1, length, f) != (size_t)length) npz_fail("cannot read", path);
    fclose(f);
    char wanted[512];
    snprintf(wanted, sizeof wanted, "%s.npy", array);
    long at = 0;
    while (at + 30 <= length && npz_le(bytes + at, 4) == 0x04034b50) {  /* local file headers */
        const unsigned char *h = bytes + at;
        if (npz_le(h + 8, 2) != 0) npz_fail("compressed entry (use numpy.savez, not savez_compressed)", path);
        uint64_t size = npz_le(h + 18, 4);
        uint32_t name_length = npz_le(h + 26, 2), extra_length = npz_le(h + 28, 2);
        const unsigned char *extra = h + 30 + name_length;
        for (uint32_t e = 0; size == 0xFFFFFFFFu && e + 4 <= extra_length;) {  /* zip64: real sizes */
            uint32_t id = npz_le(extra + e, 2), n = npz_le(extra + e + 2, 2);
            if (id == 1) size = npz_le(extra + e + 12, 4) | ((uint64_t)npz_le(extra + e + 16, 4) << 32);
            e += 4 + n;
        }
        const unsigned char *data = extra + extra_length;
        if (name_length == strlen(wanted) && memcmp(h + 30, wanted, name_length) == 0) {
            npz_array a = npz_parse_npy(data, wanted);
            free(bytes);
            return a;
        }
        at = (data - bytes) + (long)size;
    }
    npz_fail("no such array in the archive", array);
    return (npz_array){0};
}

/* Writing: stored entries with their CRC-32, then the central directory. */
typedef struct { FILE *f; int count; char names[64][256]; uint32_t crcs[64], sizes[64], offsets[64]; } npz_writer;

static uint32_t npz_crc(uint32_t crc, const unsigned char *p, size_t n) {
    crc = ~crc;
    while (n--) {
        crc ^= *p++;
        for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1)));
    }
    return ~crc;
}

static void npz_put(FILE *f, uint32_t v, int n) {
    for (int i = 0; i < n; i++) fputc((v >> (8 * i)) & 0xFF, f);
}

static npz_writer *npz_open(const char *path) {
    npz_writer *w = calloc(1, sizeof *w);
    w->f = fopen(path, "wb");
    if (!w->f) npz_fail("cannot write", path);
    return w;
}

static void npz_add(npz_writer *w, const char *array, const float *data, int ndim, const long *shape) {
    char header[256], shape_text[128] = "";
    long size = 1;
    for (int i = 0; i < ndim; i++) {
        char side[32];
        snprintf(side, sizeof side, "%ld%s", shape[i], ndim == 1 ? "," : (i + 1 < ndim ? ", " : ""));
        strcat(shape_text, side);
        size *= shape[i];
    }
    int n = snprintf(header, sizeof header, "{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }", shape_text);
    int padded = ((10 + n + 1 + 63) / 64) * 64 - 10;  /* the header ends with \n, data 64-aligned */
    memset(header + n, ' ', padded - n - 1);
    header[padded - 1] = '\n';
    size_t total = 10 + padded + sizeof(float) * size;
    unsigned char *entry = malloc(total);
    memcpy(entry, "\x93NUMPY\x01\x00", 8);
    entry[8] = padded & 0xFF;
    entry[9] = padded >> 8;
    memcpy(entry + 10, header, padded);
    memcpy(entry + 10 + padded, data, sizeof(float) * size);
    int k = w->count++;
    snprintf(w->names[k], sizeof w->names[k], "%s.npy", array);
    w->crcs[k] = npz_crc(0, entry, total);
    w->sizes[k] = (uint32_t)total;
    w->offsets[k] = (uint32_t)ftell(w->f);
    npz_put(w->f, 0x04034b50, 4); npz_put(w->f, 20, 2); npz_put(w->f, 0, 2); npz_put(w->f, 0, 2);
    npz_put(w->f, 0, 4); npz_put(w->f, w->crcs[k], 4); npz_put(w->f, w->sizes[k], 4);
    npz_put(w->f, w->sizes[k], 4); npz_put(w->f, strlen(w->names[k]), 2); npz_put(w->f, 0, 2);
    fputs(w->names[k], w->f);
    fwrite(entry, 1, total, w->f);
    free(entry);
}

static void npz_close(npz_writer *w) {
    uint32_t start = (uint32_t)ftell(w->f);
    for (int k = 0; k < w->count; k++) {
        npz_put(w->f, 0x02014b50, 4); npz_put(w->f, 20, 2); npz_put(w->f, 20, 2); npz_put(w->f, 0, 2);
        npz_put(w->f, 0, 2); npz_put(w->f, 0, 4); npz_put(w->f, w->crcs[k], 4); npz_put(w->f, w->sizes[k], 4);
        npz_put(w->f, w->sizes[k], 4); npz_put(w->f, strlen(w->names[k]), 2); npz_put(w->f, 0, 2);
        npz_put(w->f, 0, 2); npz_put(w->f, 0, 2); npz_put(w->f, 0, 2); npz_put(w->f, 0, 4);
        npz_put(w->f, w->offsets[k], 4);
        fputs(w->names[k], w->f);
    }
    uint32_t end = (uint32_t)ftell(w->f);
    npz_put(w->f, 0x06054b50, 4); npz_put(w->f, 0, 2); npz_put(w->f, 0, 2); npz_put(w->f, w->count, 2);
    npz_put(w->f, w->count, 2); npz_put(w->f, end - start, 4); npz_put(w->f, start, 4); npz_put(w->f, 0, 2);
    fclose(w->f);
    free(w);
}

#endif
