"""SMS through a Chinese gateway's template API: Aliyun (阿里云) Short Message Service,
``SendSms``. :mod:`plugins.sms.plugin` is the business's ``send_sms`` provider (task
reminders use it, see docs/plugins/integrations.md); :mod:`plugins.sms.client` speaks the
gateway's protocol."""
