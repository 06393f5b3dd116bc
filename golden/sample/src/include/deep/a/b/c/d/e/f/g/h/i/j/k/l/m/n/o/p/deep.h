/* deep */
#define DEEP 1
