/* SPDX-License-Identifier: MIT */
/*
 * The case heldby exists for: an export job decodes every image into a
 * full bitmap and keeps each one on a to-dispose list until the whole export
 * ends. Nothing leaks, yet the peak is images x 10.5 MiB. Run it under
 * `heldby run` and the report names decode_bitmap() as the holder.
 *
 *   export [IMAGES]     (default 48; each bitmap is 2560x1440x3 bytes)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { WIDTH = 2560, HEIGHT = 1440, BYTES_PER_PIXEL = 3 };

struct bitmap {
	struct bitmap *next; /* the to-dispose list */
	char *name;
	uint8_t *pixels;
};

/* Stands in for a codec: decodes row by row through a scratch buffer, the
 * way real decoders do, into a bitmap that the caller keeps. */
static __attribute__((noinline)) uint8_t *
decode_bitmap(unsigned seed)
{
	size_t row_bytes = (size_t)WIDTH * BYTES_PER_PIXEL;
	uint8_t *pixels = malloc(row_bytes * HEIGHT);
	if (!pixels)
		return NULL;
	for (unsigned y = 0; y < HEIGHT; y++) {
		uint8_t *row = malloc(row_bytes); /* short-lived scratch */
		if (!row) {
			free(pixels);
			return NULL;
		}
		memset(row, (int)((seed + y) & 0xff), row_bytes);
		memcpy(pixels + (size_t)y * row_bytes, row, row_bytes);
		free(row);
	}
	return pixels;
}

static __attribute__((noinline)) char *
image_name(unsigned i)
{
	char buf[32];
	snprintf(buf, sizeof buf, "image-%04u.png", i);
	return strdup(buf);
}

static void
dispose_all(struct bitmap *list)
{
	while (list) {
		struct bitmap *next = list->next;
		free(list->pixels);
		free(list->name);
		free(list);
		list = next;
	}
}

int
main(int argc, char **argv)
{
	unsigned images = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : 48;
	struct bitmap *to_dispose = NULL;
	uint64_t checksum = 0;

	for (unsigned i = 0; i < images; i++) {
		struct bitmap *b = malloc(sizeof *b);
		if (!b)
			break;
		b->name = image_name(i);
		b->pixels = decode_bitmap(i);
		if (!b->name || !b->pixels) {
			free(b->name);
			free(b->pixels);
			free(b);
			break;
		}
		checksum +=
			b->pixels[(size_t)i * 4099 % ((size_t)WIDTH * HEIGHT)];
		b->next = to_dispose; /* kept until the export ends */
		to_dispose = b;
	}
	dispose_all(to_dispose);
	printf("exported %u images of %dx%d (checksum %llu)\n", images, WIDTH,
	       HEIGHT, (unsigned long long)checksum);
	return 0;
}
