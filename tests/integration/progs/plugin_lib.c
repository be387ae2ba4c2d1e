/*
 * plugin_lib.c — the shared object dlopen_main.c loads and unloads while being sampled
 * (built as a CMake MODULE, libplugin_lib.so). plugin_busy() burns the CPU the profile should
 * attribute to it while it is loaded.
 */
#include "work.h"

WORK_NOFOLD uint64_t plugin_busy(uint64_t x, long units)
{
	return work_spin(x ^ 0x91, units);
}
