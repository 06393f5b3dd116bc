#define ORDER_A_X 1
