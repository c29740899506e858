// SPDX-License-Identifier: MIT
// The C++ side of early_lib.c: a global whose initialiser calls new[] runs
// in this library's constructor, before libheldby.so's. Its 2 MiB table
// must be recorded under early_cxx_table.
#include <cstring>

extern "C" unsigned early_cxx_table_sum();

__attribute__((noinline)) static char *
early_cxx_table()
{
	char *t = new char[2u << 20];
	std::memset(t, 5, 2u << 20);
	return t;
}

static char *table = early_cxx_table();

unsigned
early_cxx_table_sum()
{
	unsigned s = 0;
	for (unsigned i = 0; i < (2u << 20); i += 4096)
		s += (unsigned char)table[i];
	return s;
}
