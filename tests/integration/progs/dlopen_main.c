/*
 * dlopen_main.c — dlopen, call, dlclose, repeatedly, while sampled.
 *
 * In "churn" mode every iteration loads PLUGIN, calls plugin_busy for a few units, and unloads
 * it again, so samples land in a mapping that comes and goes (and may come back at another
 * address); between loads main_work runs in the executable. In "keep" mode the plugin is loaded
 * once and stays loaded until exit, so a profile written at exit can name plugin_busy.
 *
 * Usage: dlopen_main PLUGIN ITERATIONS churn|keep
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "work.h"

typedef uint64_t (*busy_fn)(uint64_t, long);

WORK_NOFOLD uint64_t main_work(uint64_t x, long units)
{
	return work_spin(x ^ 0x33, units);
}

static void *plugin_load(const char *path, busy_fn *fn)
{
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);

	if (h == NULL) {
		fprintf(stderr, "dlopen: %s\n", dlerror());
		return NULL;
	}
	*(void **)fn = dlsym(h, "plugin_busy");
	if (*fn == NULL) {
		fprintf(stderr, "dlsym: %s\n", dlerror());
		dlclose(h);
		return NULL;
	}
	return h;
}

int main(int argc, char **argv)
{
	uint64_t x = 9;
	busy_fn fn = NULL;
	void *h = NULL;
	int keep;
	long n;

	if (argc != 4 || (strcmp(argv[3], "churn") != 0 && strcmp(argv[3], "keep") != 0)) {
		fprintf(stderr, "usage: dlopen_main PLUGIN ITERATIONS churn|keep\n");
		return 2;
	}
	keep = strcmp(argv[3], "keep") == 0;
	n = atol(argv[2]);
	for (long i = 0; i < n; i++) {
		if (h == NULL && (h = plugin_load(argv[1], &fn)) == NULL)
			return 1;
		x = fn(x, 3);
		x = main_work(x, 1);
		if (!keep) {
			dlclose(h);
			h = NULL;
		}
	}
	printf("dlopen %s checksum=%016llx\n", argv[3], (unsigned long long)x);
	return 0;
}
