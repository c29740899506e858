// SPDX-License-Identifier: MIT
// The one C++ file: abi::__cxa_demangle is the demangler that matches the
// compiler that built the program being reported on.
#include <cxxabi.h>

#include <cstdlib>
#include <cstring>

extern "C" char *
tools_demangle(const char *name)
{
	if (!name || std::strncmp(name, "_Z", 2) != 0)
		return nullptr;
	int status = 0;
	char *out = abi::__cxa_demangle(name, nullptr, nullptr, &status);
	if (status != 0) {
		std::free(out);
		return nullptr;
	}
	return out;
}
