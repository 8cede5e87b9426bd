"""oslo.i18n integration for doctor's user-facing messages."""

import oslo_i18n

_translators = oslo_i18n.TranslatorFactory(domain='doctor')

_ = _translators.primary
