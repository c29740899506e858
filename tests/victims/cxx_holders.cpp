// SPDX-License-Identifier: MIT
// Vector growth and strings made on one line of one function: once the
// allocator plumbing is folded their stacks agree, so the text report
// merges them and must say what it merged (tests/integration/
// test_report_text.py). Also a function with a long template name, and
// libstdc++'s emergency exception pool, held at exit by every C++ program.
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

static std::vector<std::string> store;
static std::map<std::string, std::vector<std::string>> table;

__attribute__((noinline)) static void
fill(int n, size_t len)
{
	for (int i = 0; i < n; i++)
		store.emplace_back(std::string(len, (char)('a' + i % 26)));
}

template <class K, class V>
__attribute__((noinline)) void
fill_table(std::map<K, std::vector<V>> &into, int n)
{
	for (int i = 0; i < n; i++)
		into[std::to_string(i) + std::string(40, 'k')].emplace_back(
			std::string(100, 'v'));
}

int
main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 50000;
	fill(n, 300);
	fill_table(table, 1000);
	size_t sum = 0;
	for (const auto &s : store)
		sum += s.size();
	for (const auto &kv : table)
		sum += kv.second.size();
	printf("%zu\n", sum);
	return 0;
}
