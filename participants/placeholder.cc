namespace dw {}
