include $(sort $(wildcard $(BR2_EXTERNAL_WGD_PATH)/package/*/*.mk))
