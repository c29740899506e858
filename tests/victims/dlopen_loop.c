/* SPDX-License-Identifier: MIT */
/* Loads and unloads a plugin argv[2] (200) times; each time the plugin
 * allocates 64 KiB that is freed, and the last time 8 MiB that is kept. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

int
main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	int n = argc > 2 ? atoi(argv[2]) : 200;
	void *kept = NULL;
	for (int i = 0; i < n; i++) {
		void *h = dlopen(argv[1], RTLD_NOW);
		if (!h) {
			fprintf(stderr, "dlopen: %s\n", dlerror());
			return 1;
		}
		void *(*make)(size_t) =
			(void *(*)(size_t))dlsym(h, "plugin_make_cache");
		if (!make)
			return 1;
		if (i == n - 1)
			kept = make((size_t)8 << 20);
		else
			free(make((size_t)64 << 10));
		dlclose(h);
	}
	printf("loops %d cache %s\n", n, kept ? "kept" : "missing");
	return kept ? 0 : 1;
}
