/* SPDX-License-Identifier: MIT */
/*
 * A program built stripped whose memory is allocated inside glibc
 * (getpwnam, getgrnam): the only named frames of those stacks are libc's,
 * which the report folds as allocator plumbing; it must keep the name
 * (tests/integration/test_report_text.py).
 */
#include <grp.h>
#include <pwd.h>
#include <stdio.h>

int
main(void)
{
	struct passwd *pw = getpwnam("root");
	struct group *gr = getgrnam("root");
	printf("%d %d\n", pw ? (int)pw->pw_uid : -1, gr ? (int)gr->gr_gid : -1);
	return 0;
}
