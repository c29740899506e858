// SPDX-License-Identifier: MIT
// A request keeps N decoded bitmaps alive until it ends while another thread
// churns through small maps and strings, and three 4 KiB blocks leak. The
// integration tests know the exact answers: N x BITMAP_BYTES held by
// decode_bitmap at the peak, 12288 bytes leaked by leak_three_pages.
#include <cstdint>
#include <cstdlib>
#include <cstdio>
#include <map>
#include <string>
#include <thread>
#include <atomic>
#include <vector>

static constexpr std::size_t BITMAP_BYTES = 2560u * 1440u * 3u;
static std::atomic<bool> request_done{ false };

__attribute__((noinline)) static std::vector<std::uint8_t>
decode_bitmap(unsigned seed)
{
	std::vector<std::uint8_t> pixels(BITMAP_BYTES);
	for (std::size_t i = 0; i < pixels.size(); i += 4096)
		pixels[i] = static_cast<std::uint8_t>(seed + i);
	return pixels;
}

__attribute__((noinline)) static void
churn_small_maps()
{
	unsigned long sum = 0;
	while (!request_done.load()) {
		std::map<int, std::string> m;
		for (int i = 0; i < 200; i++)
			m[i] = std::string("value number ") +
			       std::to_string(i * 7919);
		sum += m.size();
	}
	std::printf("churned %lu entries\n", sum > 0 ? 1ul : 0ul);
}

__attribute__((noinline)) static void
leak_three_pages()
{
	for (int i = 0; i < 3; i++) {
		void *volatile p = std::malloc(4096);
		static_cast<char *>(p)[0] = 1;
	}
}

int
main(int argc, char **argv)
{
	unsigned n = argc > 1 ? static_cast<unsigned>(std::atoi(argv[1])) : 20;
	std::thread churner(churn_small_maps);
	{
		std::vector<std::vector<std::uint8_t>> request;
		request.reserve(n);
		unsigned long check = 0;
		for (unsigned i = 0; i < n; i++) {
			request.push_back(decode_bitmap(i));
			check += request.back()[4096];
		}
		std::printf("request held %u bitmaps (check %lu)\n", n, check);
	}
	request_done.store(true);
	churner.join();
	leak_three_pages();
	return 0;
}
