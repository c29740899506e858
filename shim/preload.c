/* SPDX-License-Identifier: MIT */
/*
 * libheldby's entry in LD_PRELOAD and the environment it is read from:
 * whether we came in preloaded, taking ourselves out of LD_PRELOAD (so
 * that the programs a process not followed starts are not traced), and the
 * LD_PRELOAD value that puts us back for an exec that is followed.
 * environ is read directly: getenv can be unusable this early.
 */
#include "preload.h"

#include <dlfcn.h>
#include <string.h>
#include <unistd.h> /* environ */

char *
env_find(const char *name)
{
	size_t n = strlen(name);
	for (char **e = environ; e && *e; e++)
		if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
			return *e + n + 1;
	return NULL;
}

/* The path this library was loaded from, as the loader was given it. */
const char *
preload_self_path(void)
{
	static const char *self;
	Dl_info di;
	if (!self && dladdr((void *)&preload_self_path, &di) && di.dli_fname)
		self = di.dli_fname;
	return self;
}

/* The file name this library was loaded from, without its folder. */
static const char *
self_name(void)
{
	const char *self = preload_self_path();
	if (!self)
		return NULL;
	const char *slash = strrchr(self, '/');
	return slash ? slash + 1 : self;
}

/* Whether the LD_PRELOAD entry s..s+n names this library. */
static int
entry_is_ours(const char *s, size_t n, const char *self)
{
	const char *b = s;
	for (const char *q = s; q < s + n; q++)
		if (*q == '/')
			b = q + 1;
	size_t bn = n - (size_t)(b - s);
	return (self && strlen(self) == bn && strncmp(b, self, bn) == 0) ||
	       (bn == 12 && strncmp(b, "libheldby.so", 12) == 0);
}

/* The next entry of an LD_PRELOAD value at *p (entries are separated by
 * ':' or ' '), its length in *n, and *p moved past it; NULL at the end. */
static const char *
next_entry(const char **p, size_t *n)
{
	const char *q = *p;
	while (*q == ':' || *q == ' ')
		q++;
	const char *s = q;
	while (*q && *q != ':' && *q != ' ')
		q++;
	*p = q;
	*n = (size_t)(q - s);
	return *n ? s : NULL;
}

int
preload_names_us(const char *value)
{
	const char *self = self_name(), *s;
	size_t n;
	while (value && (s = next_entry(&value, &n)))
		if (entry_is_ours(s, n, self))
			return 1;
	return 0;
}

/* Takes the entry name= out of environ, in place: the programs a process
 * runs see it unset, as they would without heldby, not set and empty. */
static void
env_remove(const char *name)
{
	size_t n = strlen(name);
	char **e = environ;
	while (e && *e && !(strncmp(*e, name, n) == 0 && (*e)[n] == '='))
		e++;
	for (; e && *e; e++)
		e[0] = e[1];
}

void
preload_strip(void)
{
	char *v = env_find("LD_PRELOAD");
	if (!v)
		return;
	const char *self = self_name(), *p = v, *s;
	char *out = v; /* never ahead of p */
	size_t n;
	while ((s = next_entry(&p, &n))) {
		if (entry_is_ours(s, n, self))
			continue;
		if (out != v)
			*out++ = ':';
		memmove(out, s, n);
		out += n;
	}
	*out = 0;
	if (out == v)
		env_remove("LD_PRELOAD");
}

size_t
preload_with_us(const char *value, char *out, size_t cap)
{
	const char *self = preload_self_path();
	size_t need;
	if (preload_names_us(value) || !self) {
		need = strlen(value ? value : "");
		if (need < cap)
			memcpy(out, value ? value : "", need + 1);
		return need;
	}
	size_t sn = strlen(self), vn = value ? strlen(value) : 0;
	need = sn + (vn ? 1 + vn : 0);
	if (need < cap) {
		memcpy(out, self, sn);
		if (vn) {
			out[sn] = ':';
			memcpy(out + sn + 1, value, vn);
		}
		out[need] = 0;
	}
	return need;
}
