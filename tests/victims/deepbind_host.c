/* SPDX-License-Identifier: MIT */
/* Loads argv[1] with RTLD_DEEPBIND (argv[2]: "now" or "lazy" binding) and
 * has it strdup and free 1000 strings, keep 123456 bytes, and free a string
 * the host allocated before the load (deepbind_plugin.c). Before that, it
 * loads, churns and unloads the plugin argv[3] times (0), so that a copy
 * loaded where the last one was is seen afresh. Under heldby only the
 * 123456 bytes may be held at exit. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEPT_BYTES 123456

char *host_given; /* reachable: gcc keeps the strdup */

static void *
load(const char *path, int mode)
{
	void *h = dlopen(path, mode | RTLD_DEEPBIND);
	if (!h)
		fprintf(stderr, "dlopen: %s\n", dlerror());
	return h;
}

int
main(int argc, char **argv)
{
	if (argc < 3)
		return 2;
	int mode = strcmp(argv[2], "lazy") == 0 ? RTLD_LAZY : RTLD_NOW;
	int cycles = argc > 3 ? atoi(argv[3]) : 0;
	host_given = strdup("allocated by the host, freed by the plugin");
	for (int i = 0; i < cycles; i++) {
		void *h = load(argv[1], mode);
		size_t (*churn)(int) =
			h ? (size_t(*)(int))dlsym(h, "deepbind_churn") : NULL;
		if (!churn || churn(1000) != 11890)
			return 1;
		dlclose(h);
	}
	void *h = load(argv[1], mode);
	if (!h)
		return 1;
	void (*take)(char *) = (void (*)(char *))dlsym(h, "deepbind_take");
	size_t (*churn)(int) = (size_t(*)(int))dlsym(h, "deepbind_churn");
	void *(*keep)(size_t) = (void *(*)(size_t))dlsym(h, "deepbind_keep");
	if (!take || !churn || !keep)
		return 1;
	take(host_given);
	host_given = NULL;
	size_t len = churn(1000);
	void *kept = keep(KEPT_BYTES);
	printf("churned %zu kept %s\n", len, kept ? "yes" : "no");
	return kept ? 0 : 1; /* the kept block is deliberately never freed */
}
