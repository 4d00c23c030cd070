/*
 * tmpdir.h - a scratch folder for one unit-test program: made before its
 * tests (tmpdir_make), removed with everything in it after (tmpdir_remove).
 * Header only: each test program is linked on its own.
 */
#ifndef XACT_TEST_TMPDIR_H
#define XACT_TEST_TMPDIR_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>

static char dir[256];

static int
tmpdir_rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Makes /tmp/xact-test-NAME-XXXXXX into dir: 0, or -1. */
static int
tmpdir_make(const char *name)
{
	snprintf(dir, sizeof(dir), "/tmp/xact-test-%s-XXXXXX", name);
	return mkdtemp(dir) == NULL ? -1 : 0;
}

static int
tmpdir_remove(void)
{
	return nftw(dir, tmpdir_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

#endif
