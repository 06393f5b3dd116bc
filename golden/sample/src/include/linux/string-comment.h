#define GLOB "/*"
#define PATH "/usr/include/*.h"
static const char *s = "a /* b";  /* the stripper is not C-aware */
int after_string;
#define CLOSE "*/"
int tail;
