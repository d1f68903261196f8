"""The stored file: 100,000 rows go in and come out as a stream, memory bounded by a chunk,
not by the file; and the mapping of headers in Chinese and English."""

from __future__ import annotations

import tracemalloc
import uuid

import pytest

from core.imports.files import CHUNK_BYTES, ChunkFile, ChunkWriter, count_rows, detect, read_rows
from core.imports.mapping import auto_map, normalize_header
from core.kernel.database import Database
from core.kernel.tenancy import tenant_context
from tests.core.crypto.factories import new_shop

pytestmark = pytest.mark.anyio

ROWS = 100_000


def _lines() -> list[bytes]:
    return [
        f"客户{i:06d}有限公司,138{i:08d},buyer{i}@example.com,北京市朝阳区建国路{i}号,李雷{i},A,展会\n".encode(
            "gbk"
        )
        for i in range(2_000)
    ]


async def test_a_100000_row_file_is_stored_and_read_back_without_holding_it(db: Database) -> None:
    shop = await new_shop(db)
    header = "客户名称,手机,邮箱,地址,联系人,客户级别,来源\n".encode("gbk")
    sample = _lines()
    import_id = uuid.uuid4()
    tracemalloc.start()
    try:
        with tenant_context(shop.tenant_id):
            async with db.transaction() as session:
                writer = ChunkWriter(session, import_id, max_bytes=100 * 1_048_576)
                await writer.write(header)
                for i in range(ROWS):  # written as an upload arrives: a line at a time
                    await writer.write(sample[i % len(sample)])
                await writer.close()
                size = writer.size
                assert detect("客户.csv", writer.head) == ("csv", "gb18030")
                written_peak = tracemalloc.get_traced_memory()[1]
                tracemalloc.reset_peak()

                def count(sync_session: object) -> int:
                    return count_rows(read_rows(ChunkFile(sync_session, import_id, size), "csv", "gb18030"))  # type: ignore[arg-type]

                assert await session.run_sync(count) == ROWS
                read_peak = tracemalloc.get_traced_memory()[1]
                raise _Rollback
    except _Rollback:
        pass
    finally:
        tracemalloc.stop()
    assert size > 30 * CHUNK_BYTES  # the file is far larger than what is held at once
    assert written_peak < size / 3, (written_peak, size)
    assert read_peak < size / 3, (read_peak, size)
    print(f"file {size} bytes, peak while writing {written_peak}, while reading {read_peak}")


class _Rollback(Exception):
    """Leave nothing behind."""


def test_headers_match_whatever_the_spelling() -> None:
    assert normalize_header(" 手机号（必填）* ") == "手机号"
    assert normalize_header("E-Mail Address") == "emailaddress"
    mapping = auto_map("lead", ["姓名", "公司名称", "Phone", "备注", "负责人"], [])
    assert mapping == {"0": "name", "1": "company", "2": "phone", "3": "message", "4": "owner"}
    assert auto_map("contact", ["客户名称", "姓名", "职务", "手机"], []) == {
        "0": "customer",
        "1": "name",
        "2": "title",
        "3": "phone",
    }
