#define ORDER_A 1
