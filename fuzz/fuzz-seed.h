/* SPDX-License-Identifier: MIT */
/*++
 * NAME
 *	fuzz-seed 3h
 * SUMMARY
 *	the fuzz targets' fixed seed for jansson's hash tables
 * SYNOPSIS
 *	#define FUZZ_INIT my_init	(optional: the target's own start)
 *	#include "fuzz-seed.h"
 * DESCRIPTION
 *	Defines LLVMFuzzerInitialize(), once per target: it fixes the seed
 *	of jansson's hash tables, then calls FUZZ_INIT() when the target
 *	names one (a static void function of no arguments, defined later in
 *	the target).  With jansson's random seed (from /dev/urandom) the
 *	coverage of an input changes from run to run and so does the corpus:
 *	the smoke run of fuzz/run-smoke.sh (-seed=1, a fixed number of runs)
 *	would not repeat.
 * LICENSE
 *	MIT
 *--*/
#ifndef FUZZ_SEED_H
#define FUZZ_SEED_H

#include <jansson.h>

int	LLVMFuzzerInitialize(int *argc, char ***argv);

#ifdef FUZZ_INIT
static void FUZZ_INIT(void);
#endif

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void) argc;
	(void) argv;
	json_object_seed(1);
#ifdef FUZZ_INIT
	FUZZ_INIT();
#endif
	return (0);
}

#endif
