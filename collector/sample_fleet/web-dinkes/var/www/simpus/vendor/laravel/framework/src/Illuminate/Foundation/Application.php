<?php
namespace Illuminate\Foundation;
class Application extends Container
{
    const VERSION = '8.83.27';
}
