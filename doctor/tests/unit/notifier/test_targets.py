"""Tests of the webhook target policy: [notifier] denied/allowed_networks."""

import ipaddress
import socket
from urllib import parse

import fixtures

from doctor.common import exception
from doctor.notifier import targets
from doctor.tests import base

# Every spelling of a denied address that a tenant might try, as written
# in an action URL, with the address it reaches.
SPELLINGS = [
    ('http://127.0.0.1:5432/', '127.0.0.1'),
    ('http://2130706433/', '127.0.0.1'),
    ('http://0x7f.1/', '127.0.0.1'),
    ('http://0x7F000001/', '127.0.0.1'),
    ('http://0177.0.0.1/', '127.0.0.1'),
    ('http://127.1/', '127.0.0.1'),
    ('http://127.0.1/', '127.0.0.1'),
    ('http://[::1]:6379/', '::1'),
    ('http://[0:0:0:0:0:0:0:1]/', '::1'),
    ('http://[::ffff:127.0.0.1]/', '127.0.0.1'),
    ('http://[::ffff:7f00:1]/', '127.0.0.1'),
    ('http://[::127.0.0.1]/', '127.0.0.1'),
    ('http://169.254.169.254/latest/meta-data/', '169.254.169.254'),
    ('http://[::ffff:169.254.169.254]/', '169.254.169.254'),
    ('http://2852039166/', '169.254.169.254'),
    ('http://0xa9.0xfe.0xa9.0xfe/', '169.254.169.254'),
    ('http://[fd00:ec2::254]/', 'fd00:ec2::254'),
    ('http://[fe80::1%25eth0]/', 'fe80::1'),
    ('http://[fe80::1%25no-such-interface]/', 'fe80::1'),
    ('http://0.0.0.0/', '0.0.0.0'),
    ('http://0/', '0.0.0.0'),
    ('http://[::]/', '::'),
    ('https://u:p@127.0.0.1:12345/v1/alarms', '127.0.0.1'),
]

PERMITTED = ['http://10.0.0.8:8000/alarm', 'http://192.0.2.1/',
             'http://[2001:db8::1]/', 'http://[::ffff:192.0.2.1]/',
             'http://vnfm.example/alarm', 'http://127.0.0.1.example/',
             'http://1.2.3.4.5/']


def _host(url):
    return parse.urlsplit(url).hostname


def _infos(*addresses, port=80):
    """A getaddrinfo answer for ``addresses``."""
    infos = []
    for address in addresses:
        if ':' in address:
            address, _sep, scope = address.partition('%')
            infos.append((socket.AF_INET6, socket.SOCK_STREAM,
                          socket.IPPROTO_TCP, '',
                          (address, port, 0, int(scope or 0))))
        else:
            infos.append((socket.AF_INET, socket.SOCK_STREAM,
                          socket.IPPROTO_TCP, '', (address, port)))
    return infos


class PolicyTestCase(base.TestCase):

    def policy(self):
        return targets.TargetPolicy.from_conf(self.conf)

    def check(self, url):
        self.policy().check_literal(url, _host(url))


class TestLiteralAddresses(PolicyTestCase):

    def test_every_spelling_is_the_address_it_reaches(self):
        for url, address in SPELLINGS:
            self.assertEqual(ipaddress.ip_address(address),
                             targets.literal_address(_host(url)), url)

    def test_names_are_not_literal(self):
        for host in ('vnfm.example', '127.0.0.1.example', '1.2.3.4.5',
                     'localhost', '127.0.0.1.'):
            self.assertIsNone(targets.literal_address(host), host)

    def test_every_spelling_is_denied_by_default(self):
        for url, address in SPELLINGS:
            e = self.assertRaises(exception.TargetDenied, self.check, url)
            self.assertIn(' is in a denied network: ', str(e))
            self.assertIn(address, str(e))

    def test_the_refusal_says_what_a_spelling_stands_for(self):
        e = self.assertRaises(exception.TargetDenied, self.check,
                              'http://0x7f.1/')
        self.assertEqual(
            'http://0x7f.1/ is in a denied network: its host 0x7f.1 is the '
            'address 127.0.0.1, in 127.0.0.0/8', str(e))

    def test_others_are_permitted_by_default(self):
        for url in PERMITTED:
            self.check(url)

    def test_every_spelling_is_allowed_through_allowed_networks(self):
        self.config.config(allowed_networks=[
            '127.0.0.0/8', '::1', '169.254.169.254/32', 'fd00:ec2::/64',
            'fe80::/10', '0.0.0.0/8', '::/128'], group='notifier')
        for url, _address in SPELLINGS:
            self.check(url)

    def test_allowed_networks_reopen_only_themselves(self):
        self.config.config(allowed_networks=['127.0.0.1/32'],
                           group='notifier')
        self.check('http://0x7f.1:12346/')
        self.check('http://[::ffff:127.0.0.1]/')
        self.assertRaises(exception.TargetDenied, self.check,
                          'http://127.0.0.2/')
        self.assertRaises(exception.TargetDenied, self.check,
                          'http://[::1]/')

    def test_denied_networks_are_configurable(self):
        self.config.config(denied_networks=['10.0.0.0/8'],
                           group='notifier')
        self.assertRaises(exception.TargetDenied, self.check,
                          'http://012.0.0.1/')
        self.check('http://127.0.0.1/')

    def test_an_empty_list_denies_nothing(self):
        self.config.config(denied_networks=[], group='notifier')
        for url, _address in SPELLINGS:
            self.check(url)


class TestConfig(base.TestCase):

    def test_defaults(self):
        policy = targets.TargetPolicy.from_conf(self.conf)
        self.assertEqual(
            ['127.0.0.0/8', '::1/128', '169.254.0.0/16', 'fe80::/10',
             '169.254.169.254/32', 'fd00:ec2::254/128', '0.0.0.0/8',
             '::/128'], [str(n) for n in policy.denied])
        self.assertEqual([], policy.allowed)

    def test_a_value_that_is_not_a_network_is_refused(self):
        for option in ('denied_networks', 'allowed_networks'):
            for value in ('localhost', '10.0.0.0/33', '10.0.0.1/8', ''):
                values = {'denied_networks': ['127.0.0.0/8'],
                          'allowed_networks': []}
                values[option] = ['127.0.0.0/8', value]
                self.config.config(group='notifier', **values)
                e = self.assertRaises(exception.ConfigInvalid,
                                      targets.check_config, self.conf)
                self.assertIn('[notifier] %s: %r is not a network in CIDR '
                              'notation' % (option, value), str(e))


class TestResolve(PolicyTestCase):

    def setUp(self):
        super().setUp()
        self.getaddrinfo = self.useFixture(fixtures.MockPatchObject(
            targets, 'getaddrinfo', autospec=True)).mock

    def test_a_name_resolving_to_a_denied_address_is_refused(self):
        self.getaddrinfo.return_value = _infos('169.254.169.254')
        e = self.assertRaises(exception.TargetDenied, self.policy().resolve,
                              'http://vnfm.example/', 'vnfm.example', 80)
        self.assertEqual(
            'http://vnfm.example/ is in a denied network: its host '
            'vnfm.example resolves to 169.254.169.254, in 169.254.0.0/16',
            str(e))
        self.getaddrinfo.assert_called_once_with('vnfm.example', 80)

    def test_one_denied_address_among_others_refuses_the_name(self):
        self.getaddrinfo.return_value = _infos('192.0.2.1',
                                               '::ffff:127.0.0.1')
        self.assertRaises(exception.TargetDenied, self.policy().resolve,
                          'http://vnfm.example/', 'vnfm.example', 80)

    def test_the_first_address_is_the_one_to_connect_to(self):
        self.getaddrinfo.return_value = _infos('2001:db8::1', '192.0.2.1',
                                               port=8000)
        self.assertEqual('2001:db8::1', self.policy().resolve(
            'http://vnfm.example:8000/', 'vnfm.example', 8000))

    def test_an_allowed_address_keeps_its_zone(self):
        self.config.config(allowed_networks=['fe80::/10'], group='notifier')
        self.getaddrinfo.return_value = _infos('fe80::1%3')
        self.assertEqual('fe80::1%3', self.policy().resolve(
            'http://[fe80::1%25eth0]/', 'fe80::1%25eth0', 80))
        self.getaddrinfo.assert_called_once_with('fe80::1%eth0', 80)

    def test_resolution_failure_is_raised(self):
        self.getaddrinfo.side_effect = socket.gaierror(
            socket.EAI_NONAME, 'Name or service not known')
        self.assertRaises(socket.gaierror, self.policy().resolve,
                          'http://nowhere.invalid/', 'nowhere.invalid', 80)


class TestMaskUrl(base.TestCase):

    def test_password_masked(self):
        self.assertEqual('http://user:***@vnfm:8000/alarm?x=1',
                         targets.mask_url(
                             'http://user:s3cret@vnfm:8000/alarm?x=1'))

    def test_lone_user_masked(self):
        self.assertEqual('https://***@vnfm/alarm',
                         targets.mask_url('https://token@vnfm/alarm'))

    def test_password_with_at_sign(self):
        self.assertEqual('http://user:***@[::1]:80/a@b',
                         targets.mask_url('http://user:p@ss@[::1]:80/a@b'))

    def test_unchanged_without_credentials(self):
        for url in ('http://vnfm/alarm', 'http://vnfm/a@b?c=@d',
                    'log://', 'not a url', 'http://[::1/alarm'):
            self.assertEqual(url, targets.mask_url(url))

    def test_urls_in_a_text_masked(self):
        self.assertEqual(
            "['http://u:***@h/x', 'https://***@h:1/'] has non-unique "
            "elements; mail user@example.com",
            targets.mask_credentials(
                "['http://u:p@h/x', 'https://tok@h:1/'] has non-unique "
                "elements; mail user@example.com"))

    def test_malformed_url_masked_too(self):
        self.assertEqual('http://u:***@[::1/alarm',
                         targets.mask_url('http://u:s3cret@[::1/alarm'))
