/* SPDX-License-Identifier: MIT */
/* Loads a plugin, lets it allocate 8 MiB that outlives it, unloads it.
 * With a second path, that file is renamed over the plugin's after it was
 * loaded and before it allocates, as a package upgrade does under a running
 * service: the file on disk is no longer the code in memory. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

int
main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	void *h = dlopen(argv[1], RTLD_NOW);
	if (!h) {
		fprintf(stderr, "dlopen: %s\n", dlerror());
		return 1;
	}
	if (argc > 2 && rename(argv[2], argv[1]) != 0) {
		perror("rename");
		return 1;
	}
	void *(*make)(size_t) =
		(void *(*)(size_t))dlsym(h, "plugin_make_cache");
	void *cache = make ? make((size_t)8 << 20) : NULL;
	dlclose(h);
	printf("cache %s\n", cache ? "kept" : "missing");
	return cache ? 0 : 1; /* the cache is deliberately never freed */
}
