/* event codes */
#define KEY_A 30
