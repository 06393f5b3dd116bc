/* long path */
#define LONG_PATH 1
