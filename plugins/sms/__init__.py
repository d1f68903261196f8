"""SMS through a Chinese gateway's template API: Aliyun (阿里云) Short Message Service,
``SendSms``. The provider-hook wiring comes with the plugin manager; this package holds the
protocol client, :mod:`plugins.sms.client`."""
