"""test_dlopen.py — shared objects loaded and unloaded while sampled at 1000 Hz.

progs/dlopen_main.c loads progs/libplugin_lib.so, calls plugin_busy, and in "churn" mode
unloads it again on every iteration; in "keep" mode it stays loaded until exit. Both must
produce the unprofiled output and a profile go tool pprof opens. In keep mode the plugin is
mapped when the profile is written, so plugin_busy must be named, with about 3/4 of the work
(3 units of plugin_busy per unit of main_work). In churn mode samples whose mapping is gone
may stay unnamed; the test only reports whether plugin_busy is there.
"""
import lib

c = lib.Checker("dlopen/dlclose while sampled")
lib.require(c)
plugin = lib.prog("libplugin_lib.so")
for mode in ("churn", "keep"):
    argv = [lib.prog("dlopen_main"), plugin, "300", mode]
    base = lib.baseline(argv)
    r, path, _ = lib.profiled(c, "dlopen-" + mode, argv, CPROF_HZ=1000)
    lib.check_same_output(c, base, r, mode)
    top = lib.check_opens(c, path, mode)
    if top is None:
        continue
    main_s, plug_s = lib.flat_of(top, "main_work"), lib.flat_of(top, "plugin_busy")
    c.check(main_s > 0, "%s: main_work sampled" % mode)
    c.note("%s: plugin_busy %.3fs, main_work %.3fs" % (mode, plug_s, main_s))
    # Samples in code that has since been unloaded are still samples (pprof shows them as
    # addresses): nothing may be dropped.
    c.check(abs(top.total - r.cpu) <= 0.10 * r.cpu, "%s: sampled CPU %.3fs within 10%% of process CPU %.3fs"
            % (mode, top.total, r.cpu))
    if mode == "keep":
        share = plug_s / (plug_s + main_s) if plug_s + main_s else 0
        c.check(abs(share - 0.75) <= 0.05, "keep: plugin_busy named with %.0f%% of the work (75%% expected)"
                % (100 * share), "top: %s" % ", ".join(lib.top_names(top, 6)))
c.finish()
