/*
 * heap_cxx.cc — C++ new and delete, which reach the heap profile only through libstdc++'s calls to
 * malloc and free.
 *
 * heapcc::Factory::make_widgets() creates 5000 Widgets (320 bytes each) with new and keeps them;
 * heapcc::fill_buffers() creates 300 arrays of 1000 doubles with new[] and keeps them;
 * heapcc::churn_widgets() creates and deletes 20000 Widgets, so its site has allocations and
 * nothing in use. The functions are in a namespace and a class so that the profile must show
 * demangled C++ names. Pointers go through volatile globals: the compiler may not elide the
 * new/delete pairs.
 *
 * Usage: heap_cxx
 * Prints a line that does not depend on the profiler.
 */
#include <cstdio>
#include <cstdlib>

namespace heapcc {

struct Widget {
	long id;
	char payload[312];
	explicit Widget(long i) : id(i) { payload[0] = (char)i; }
};

static_assert(sizeof(Widget) == 320, "Widget must be 320 bytes");

enum { NWIDGETS = 5000, NBUFFERS = 300, BUFFER_LEN = 1000, NCHURN = 20000 };

Widget *volatile widgets[NWIDGETS];
double *volatile buffers[NBUFFERS];
Widget *volatile passing;

class Factory {
public:
	__attribute__((noinline)) static long make_widgets(int n)
	{
		long sum = 0;
		for (int i = 0; i < n; i++) {
			widgets[i] = new Widget(i);
			sum += widgets[i]->id;
		}
		return sum;
	}
};

__attribute__((noinline)) double fill_buffers(int n)
{
	double sum = 0;
	for (int i = 0; i < n; i++) {
		buffers[i] = new double[BUFFER_LEN];
		buffers[i][0] = i;
		sum += buffers[i][0];
	}
	return sum;
}

__attribute__((noinline)) long churn_widgets(int n)
{
	long sum = 0;
	for (int i = 0; i < n; i++) {
		passing = new Widget(i);
		sum += passing->payload[0];
		delete passing;
	}
	return sum;
}

} // namespace heapcc

int main()
{
	long w = heapcc::Factory::make_widgets(heapcc::NWIDGETS);
	double b = heapcc::fill_buffers(heapcc::NBUFFERS);
	long c = heapcc::churn_widgets(heapcc::NCHURN);
	std::printf("heap_cxx widgets %ld buffers %.0f churn %ld\n", w, b, c);
	return 0;
}
