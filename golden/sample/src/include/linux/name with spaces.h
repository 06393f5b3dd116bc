/* name with spaces */
#define SPACES 1
