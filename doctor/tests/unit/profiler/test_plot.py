"""The timeline as a picture: valid SVG and PNG files."""

import os
import struct
from xml.etree import ElementTree
import zlib

import fixtures
import testtools

from doctor.profiler import plot
from doctor.profiler import timeline
from doctor.tests.unit.profiler import samples

PNG_MAGIC = b'\x89PNG\r\n\x1a\n'


def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """The chunks of a PNG file, each checked against its CRC."""
    chunks = []
    position = len(PNG_MAGIC)
    while position < len(data):
        length, kind = struct.unpack('>I4s', data[position:position + 8])
        body = data[position + 8:position + 8 + length]
        crc, = struct.unpack('>I', data[position + 8 + length:
                                        position + 12 + length])
        if zlib.crc32(kind + body) != crc:
            raise ValueError('bad CRC in chunk %r' % kind)
        chunks.append((kind, body))
        position += 12 + length
    return chunks


class TestPlot(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.directory = self.useFixture(fixtures.TempDir()).path
        self.timeline = timeline.build(samples.fault(
            without=('received_alarm',)))

    def test_svg_is_a_parseable_svg_document(self):
        path = os.path.join(self.directory, 'fault.svg')

        plot.write(self.timeline, path)

        root = ElementTree.parse(path).getroot()
        self.assertEqual('{http://www.w3.org/2000/svg}svg', root.tag)
        texts = [element.text for element in root.iter(
            '{http://www.w3.org/2000/svg}text')]
        self.assertIn('MISSING', texts)
        self.assertIn('8 fired_alarm x3', texts)

    def test_png_is_a_complete_png_file(self):
        path = os.path.join(self.directory, 'fault.PNG')

        plot.write(self.timeline, path)

        with open(path, 'rb') as f:
            data = f.read()
        self.assertEqual(PNG_MAGIC, data[:8])
        chunks = png_chunks(data)
        self.assertEqual((b'IHDR', b'IEND'), (chunks[0][0], chunks[-1][0]))
        width, height = struct.unpack('>II', chunks[0][1][:8])
        self.assertEqual(plot.WIDTH, width)
        self.assertGreater(height, 11 * plot.ROW)

    def test_another_extension_is_refused(self):
        error = self.assertRaises(plot.PlotError, plot.write, self.timeline,
                                  os.path.join(self.directory, 'fault.gif'))

        self.assertIn('.png or .svg', str(error))
